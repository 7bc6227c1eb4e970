// The desired state against Docker's containers (pure): which desired replicas serve, which do not
// and why, which containers are extra whatever their labels say; and naming by container.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { classifyService, demuxLogs, whyNotServing } from "../../harness/stack/desired-state.ts";
import { StackDirectory } from "../../harness/stack/directory.ts";
import type { ContainerInspect } from "../../harness/stack/discover.ts";

const project = "p";

function container(
  n: number,
  state: Partial<ContainerInspect["State"]> = {},
  opts: { ip?: string | null; created?: string; hostname?: string } = {},
): ContainerInspect {
  const ip = opts.ip === undefined ? `172.20.0.${10 + n}` : opts.ip;
  return {
    Id: `id${n}`,
    Name: `/p-service1-${n}`,
    Created: opts.created ?? `2026-11-28T00:00:0${n}Z`,
    State: {
      Running: true,
      Status: "running",
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      ExitCode: 0,
      Error: "",
      FinishedAt: "",
      ...state,
    },
    Config: {
      Hostname: opts.hostname ?? `host${n}`,
      Labels: {
        "com.docker.compose.project": project,
        "com.docker.compose.service": "service1",
        "com.docker.compose.container-number": String(n),
      },
    },
    NetworkSettings: { Networks: ip === null ? {} : { p_default: { IPAddress: ip } }, Ports: {} },
  };
}

describe("classifyService", () => {
  it("passes exactly the desired replicas through", () => {
    const s = classifyService("service1", 3, [container(1), container(2), container(3)], project);
    assert.deepEqual(
      s.serving.map((r) => r.name),
      ["p-service1-1", "p-service1-2", "p-service1-3"],
    );
    assert.deepEqual([s.notServing, s.extras, s.absent], [[], [], 0]);
  });

  it("names a desired replica that exited, with its exit code and OOM kill", () => {
    const dead = container(3, {
      Running: false,
      Status: "exited",
      ExitCode: 137,
      OOMKilled: true,
      FinishedAt: "2026-11-28T04:19:16.123456Z",
    });
    const s = classifyService("service1", 3, [container(1), container(2), dead], project);
    assert.equal(s.serving.length, 2);
    assert.deepEqual(
      s.notServing.map((n) => [n.container, n.why]),
      [["p-service1-3", "exited with code 137, OOM-killed at 2026-11-28T04:19:16Z"]],
    );
  });

  it("a paused replica, a restarting one and one without an address do not serve", () => {
    const s = classifyService(
      "service1",
      3,
      [container(1, { Paused: true }), container(2, { Restarting: true, ExitCode: 1 }), container(3, {}, { ip: null })],
      project,
    );
    assert.equal(s.serving.length, 0);
    assert.deepEqual(
      s.notServing.map((n) => n.why),
      ["paused (docker pause)", "restarting (last exit code 1)", "running but not attached to the project's network"],
    );
  });

  it("counts desired replicas that have no container at all", () => {
    const s = classifyService("service1", 4, [container(1), container(2)], project);
    assert.equal(s.absent, 2);
  });

  it("an extra container is one numbered beyond the desired count, or a second with the same number", () => {
    const copy = container(2, {}, { created: "2026-11-28T00:00:09Z", hostname: "copy2" });
    copy.Id = "copy";
    copy.Name = "/impostor";
    const s = classifyService("service1", 3, [container(1), container(2), container(3), container(4), copy], project);
    assert.deepEqual(
      s.serving.map((r) => r.name),
      ["p-service1-1", "p-service1-2", "p-service1-3"],
    );
    assert.deepEqual(
      s.extras.map((x) => [x.container, x.why]),
      [
        ["impostor", "a second container numbered 2 of service1"],
        ["p-service1-4", "numbered 4, beyond the 3 desired replicas of service1"],
      ],
    );
  });

  it("an exited container is not news when the desired replicas all serve", () => {
    const s = classifyService("service1", 2, [container(1), container(2), container(3, { Running: false, Status: "exited" })], project);
    assert.deepEqual([s.serving.length, s.notServing.length, s.extras.length], [2, 0, 0]);
  });

  it("says why in words for each state", () => {
    assert.equal(whyNotServing(container(1, { Running: false, Status: "created" }), project), "created but never started");
    assert.equal(
      whyNotServing(container(1, { Running: false, Status: "exited", ExitCode: 143 }), project),
      "exited with code 143, stopped (SIGTERM)",
    );
    assert.equal(whyNotServing(container(1, { Dead: true, Running: false }), project), "dead (Docker could not stop or remove it)");
  });
});

describe("demuxLogs", () => {
  it("joins Docker's multiplexed stdout and stderr frames", () => {
    const frame = (stream: number, text: string): Buffer => {
      const body = Buffer.from(text);
      const head = Buffer.alloc(8);
      head[0] = stream;
      head.writeUInt32BE(body.length, 4);
      return Buffer.concat([head, body]);
    };
    assert.equal(demuxLogs(Buffer.concat([frame(1, "out\n"), frame(2, "err\n")])), "out\nerr\n");
    assert.equal(demuxLogs(Buffer.from("plain tty output\n")), "plain tty output\n");
  });
});

describe("StackDirectory", () => {
  const dir = new StackDirectory([
    { container: "p-service1-1", hostname: "3f2a9c1d0b7e", ips: ["172.20.0.5"], service: "service1" },
    { container: "rogue", hostname: "aaaaaaaaaaaa", ips: ["172.20.0.9"], service: undefined },
  ]);

  it("names an address by container and hostname, and says when nothing owns it", () => {
    assert.equal(dir.describeIp("172.20.0.5:8080"), "container p-service1-1 (hostname 3f2a9c1d0b7e, 172.20.0.5:8080)");
    assert.equal(dir.describeIp("172.20.0.77"), "172.20.0.77 (no container on the project's networks has this address)");
    assert.equal(dir.describeHostname("aaaaaaaaaaaa"), "container rogue (hostname aaaaaaaaaaaa, 172.20.0.9)");
    assert.equal(dir.containerOf("3f2a9c1d0b7e"), "p-service1-1");
  });

  it("names every bare address and hostname in a line, but leaves URLs alone", () => {
    assert.equal(
      dir.nameIn('target 172.20.0.9:8080 is down: Get "http://172.20.0.9:8080/metrics": refused; replica 3f2a9c1d0b7e'),
      'target container rogue (hostname aaaaaaaaaaaa, 172.20.0.9:8080) is down: Get "http://172.20.0.9:8080/metrics": refused; replica 3f2a9c1d0b7e (container p-service1-1)',
    );
  });
});
