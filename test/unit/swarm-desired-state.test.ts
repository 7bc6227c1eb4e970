// The swarm's desired state and directory without a swarm: task and node lists shaped as Docker
// 20.10's /tasks and /nodes answer, through the same ServiceState the compose target gives verify.
import { describe, expect, it } from "vitest";
import { classifySwarmService, swarmMembers, whyTaskNotServing } from "../../harness/targets/swarm/desired-state.ts";
import { parseTasks, type SwarmNode } from "../../harness/targets/swarm/tasks.ts";

const nodes = new Map<string, SwarmNode>([
  ["n1", { id: "n1", hostname: "sw-manager", state: "ready" }],
  ["n2", { id: "n2", hostname: "sw-worker1", state: "ready" }],
  ["n3", { id: "n3", hostname: "sw-worker2", state: "down" }],
]);

const task = (o: {
  id: string;
  slot: number;
  node?: string;
  desired?: string;
  state: string;
  container?: string;
  ip?: string;
  err?: string;
}) => ({
  ID: o.id,
  Slot: o.slot,
  ...(o.node ? { NodeID: o.node } : {}),
  DesiredState: o.desired ?? "running",
  CreatedAt: `2026-11-28T07:00:0${o.slot}Z`,
  Status: {
    State: o.state,
    ...(o.err ? { Err: o.err } : {}),
    ContainerStatus: o.container ? { ContainerID: o.container } : {},
  },
  NetworksAttachments: o.ip ? [{ Network: { Spec: { Name: "st_default" } }, Addresses: [`${o.ip}/24`] }] : [],
});

describe("swarm desired state", () => {
  it("serves the running tasks on ready nodes, and names a task on a node that is down as not serving", () => {
    const tasks = parseTasks([
      task({ id: "t1", slot: 1, node: "n1", state: "running", container: "aaaaaaaaaaaa11", ip: "10.0.1.4" }),
      task({ id: "t2", slot: 2, node: "n2", state: "running", container: "bbbbbbbbbbbb22", ip: "10.0.1.5" }),
      task({ id: "t3", slot: 3, node: "n3", state: "running", container: "cccccccccccc33", ip: "10.0.1.6" }),
    ]);
    const s = classifySwarmService("service1", 3, tasks, nodes, "st");
    expect(s.serving.map((r) => [r.name, r.hostname, r.ip, r.number])).toEqual([
      ["st_service1.1.t1", "aaaaaaaaaaaa", "10.0.1.4", 1],
      ["st_service1.2.t2", "bbbbbbbbbbbb", "10.0.1.5", 2],
    ]);
    expect(s.notServing).toEqual([
      {
        container: "st_service1.3.t3",
        hostname: "cccccccccccc",
        why: "task running on node sw-worker2, which is down (the manager has not rescheduled it yet)",
        logTail: [],
      },
    ]);
    expect(s.extras).toEqual([]);
    expect(s.absent).toBe(0);
  });

  it("says why a task failed, counts slots without any task as absent, and old tasks still running as extras", () => {
    const tasks = parseTasks([
      task({ id: "t1", slot: 1, node: "n1", state: "running", container: "aaaaaaaaaaaa11", ip: "10.0.1.4" }),
      task({ id: "t2", slot: 2, node: "n2", state: "rejected", err: "No such image: envoy-pipeline/service:x" }),
      task({ id: "t0", slot: 1, node: "n2", desired: "shutdown", state: "running", container: "dddddddddddd44", ip: "10.0.1.3" }),
    ]);
    const s = classifySwarmService("service1", 3, tasks, nodes, "st");
    expect(s.serving.map((r) => r.hostname)).toEqual(["aaaaaaaaaaaa"]);
    expect(s.notServing.map((n) => n.why)).toEqual(["task rejected: No such image: envoy-pipeline/service:x on node sw-worker1"]);
    expect(s.absent).toBe(1);
    expect(s.extras).toEqual([
      {
        container: "st_service1.1.t0",
        hostname: "dddddddddddd",
        ip: "10.0.1.3",
        why: "still running although swarm asked it to shut down",
      },
    ]);
  });

  it("counts running tasks beyond the desired replicas as extras", () => {
    const tasks = parseTasks([
      task({ id: "t1", slot: 1, node: "n1", state: "running", container: "aaaaaaaaaaaa11", ip: "10.0.1.4" }),
      task({ id: "t2", slot: 2, node: "n2", state: "running", container: "bbbbbbbbbbbb22", ip: "10.0.1.5" }),
    ]);
    const s = classifySwarmService("service1", 1, tasks, nodes, "st");
    expect(s.serving.map((r) => r.hostname)).toEqual(["aaaaaaaaaaaa"]);
    expect(s.extras.map((x) => [x.container, x.why])).toEqual([["st_service1.2.t2", "slot 2, beyond the 1 desired replica of service1"]]);
  });

  it("a task not placed yet says so", () => {
    const [t] = parseTasks([task({ id: "t9", slot: 1, state: "pending", err: "no suitable node (insufficient resources on 3 nodes)" })]);
    if (!t) throw new Error("no task");
    expect(whyTaskNotServing(t, nodes)).toBe(
      "task pending: no suitable node (insufficient resources on 3 nodes) (not placed on any node yet)",
    );
  });
});

describe("swarm directory", () => {
  it("names a task's container with its node, hostname and address; a stopped task keeps its name without an address", () => {
    const members = swarmMembers(
      new Map([
        [
          "service1",
          parseTasks([
            task({ id: "t0", slot: 1, node: "n2", desired: "shutdown", state: "shutdown", container: "dddddddddddd44", ip: "10.0.1.4" }),
            task({ id: "t1", slot: 1, node: "n1", state: "running", container: "aaaaaaaaaaaa11", ip: "10.0.1.4" }),
          ]),
        ],
      ]),
      nodes,
      "st",
    );
    expect(members).toEqual([
      { container: "st_service1.1.t1 on node sw-manager", hostname: "aaaaaaaaaaaa", ips: ["10.0.1.4"], service: "service1" },
      { container: "st_service1.1.t0 on node sw-worker1", hostname: "dddddddddddd", ips: [], service: "service1" },
    ]);
  });
});
