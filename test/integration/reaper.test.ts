// Cleanup when the harness dies, against the real engine: the reaper (harness/reaper/ryuk/) removes
// exactly what its filters match once its last client is gone; Testcontainers itself runs our
// reaper image and it reaps a killed process's container; and `kill -9` of a real pipeline, in
// deploy or in verify, leaves 0 containers and 0 networks of its project within 60 s.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { repoRoot } from "../../harness/lib/paths.ts";
import { docker } from "../../harness/docker/engine.ts";
import { resolveImages } from "../../harness/images/index.ts";
import { RYUK } from "../../harness/images/versions.ts";
import { reaperConfig, startReaper } from "../../harness/reaper/ryuk/index.ts";
import { PROJECT_LABEL } from "../../harness/stack/discover.ts";
import { teardown } from "../../harness/stack/teardown.ts";
import { pollUntil, runCli } from "../support/cli.ts";
import { testProjectName } from "../support/names.ts";

const LABEL = "ept.reaper-test";
/** The promise: nothing of a killed run is left this long after the kill. */
const GOAL_MS = 60_000;
/** Short reconnection timeout in tests (Ryuk's default is 10 s): quick, same behaviour. */
const RECONNECTION = "2s";

async function labelled(value: string): Promise<{ containers: number; networks: number; volumes: number }> {
  const filters = { label: [`${LABEL}=${value}`] };
  const volumes = (await docker().listVolumes({ filters })).Volumes ?? [];
  return {
    containers: (await docker().listContainers({ all: true, filters })).length,
    networks: (await docker().listNetworks({ filters })).length,
    volumes: volumes.length,
  };
}

async function removeLabelled(value: string): Promise<void> {
  const filters = { label: [`${LABEL}=${value}`] };
  for (const c of await docker().listContainers({ all: true, filters })) await docker().getContainer(c.Id).remove({ force: true });
  for (const n of await docker().listNetworks({ filters })) await docker().getNetwork(n.Id).remove();
  for (const v of (await docker().listVolumes({ filters })).Volumes ?? []) await docker().getVolume(v.Name).remove();
}

describe("the reaper against the real engine", { timeout: 180_000 }, () => {
  let image = "";
  const run = randomBytes(4).toString("hex");
  const mine = `mine-${run}`;
  const theirs = `theirs-${run}`;
  beforeAll(async () => {
    image = (await resolveImages()).env.NODE_IMAGE;
  });
  afterAll(async () => {
    await removeLabelled(mine);
    await removeLabelled(theirs);
  });

  it("removes the containers, networks and volumes its filter matches, and nothing else, when its client leaves", async () => {
    for (const value of [mine, theirs]) {
      const c = await docker().createContainer({ Image: image, Cmd: ["sleep", "600"], Labels: { [LABEL]: value } });
      await c.start();
      await docker().createNetwork({ Name: `ept-reaper-${value}`, Labels: { [LABEL]: value } });
      await docker().createVolume({ Name: `ept-reaper-${value}`, Labels: { [LABEL]: value } });
    }
    const reaper = await startReaper(
      { ...reaperConfig({}), port: 0, reconnectionTimeoutMs: 500 },
      { host: "127.0.0.1", log: () => undefined },
    );
    const acks = await new Promise<string>((done, fail) => {
      const socket = connect(reaper.port, "127.0.0.1", () => socket.write(`label=${LABEL}=${mine}\r\n`));
      let answer = "";
      socket.setEncoding("utf8").on("data", (d: string) => {
        answer += d;
        // The client leaves as soon as its filter is acknowledged, as a killed process would.
        if (answer.endsWith("ACK\n")) socket.destroy();
      });
      socket.on("close", () => done(answer));
      socket.on("error", fail);
    });
    assert.equal(acks, "ACK\n");
    const result = await reaper.done;
    assert.equal(result.left, 0);
    assert.deepEqual(await labelled(mine), { containers: 0, networks: 0, volumes: 0 });
    assert.deepEqual(await labelled(theirs), { containers: 1, networks: 1, volumes: 1 }, "what the filter does not match stays");
  });

  it("is what Testcontainers runs (RYUK_CONTAINER_IMAGE), and removes a SIGKILLed process's container", async () => {
    const info = await docker()
      .getImage(RYUK.alias)
      .inspect()
      .catch(() => null);
    assert.ok(info, `${RYUK.alias} is missing: run \`node --import tsx harness/cli.ts prepare\` first`);
    const value = `tc-${run}`;
    const child = spawn(process.execPath, ["--import", "tsx", resolve(repoRoot, "test/fixtures/reaper/testcontainers-child.ts")], {
      // Its own reaper, not one another run on this host is connected to (see harness/reaper/session.ts).
      env: {
        ...process.env,
        EPT_LABEL: value,
        TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT: RECONNECTION,
        TESTCONTAINERS_RYUK_TEST_LABEL: "true",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const id = await new Promise<string>((done, fail) => {
      let out = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        const m = /started ([0-9a-f]{64})/.exec(out);
        if (m?.[1]) done(m[1]);
      });
      child.on("close", (code) =>
        fail(new Error(`the Testcontainers process ended (${code}) before starting its container:\n${stderr.slice(-1500)}`)),
      );
    });
    try {
      const reapers = await docker().listContainers({ filters: { label: ["org.testcontainers.ryuk=true"] } });
      assert.ok(
        reapers.some((r) => r.Image === RYUK.alias || r.Image === RYUK.official),
        `a reaper from ${RYUK.alias} runs`,
      );
      child.kill("SIGKILL");
      const seconds = await pollUntil(
        "the reaper removing the killed process's container",
        GOAL_MS,
        async () => (await labelled(value)).containers === 0,
      );
      process.stderr.write(
        `reaper: container ${id.slice(0, 12)} of the SIGKILLed Testcontainers process removed ${seconds.toFixed(1)} s after the kill\n`,
      );
    } finally {
      child.kill("SIGKILL");
      await removeLabelled(value);
    }
  });
});

describe("kill -9 of the harness", { timeout: 600_000 }, () => {
  const reportDir = mkdtempSync(join(tmpdir(), "ept-kill-reports-"));
  const projects: string[] = [];
  afterAll(async () => {
    rmSync(reportDir, { recursive: true, force: true });
    for (const p of projects) await teardown(docker(), p);
  });

  const projectLeft = async (project: string): Promise<{ containers: number; networks: number }> => {
    const filters = { label: [`${PROJECT_LABEL}=${project}`] };
    return {
      containers: (await docker().listContainers({ all: true, filters })).length,
      networks: (await docker().listNetworks({ filters })).length,
    };
  };

  for (const [stage, when, trigger] of [
    ["deploy", "while compose starts the stack", /compose up of project .*\.\.\./],
    ["verify", "with the whole stack up and under load", /== verify/],
  ] as const) {
    it(`leaves 0 containers and 0 networks within 60 s when killed in ${stage} (${when})`, async () => {
      const project = testProjectName(`kill-${stage}`);
      projects.push(project);
      let killedAt = 0;
      let peak = 0;
      const run = await runCli(["pipeline", "--project", project, "--report-dir", reportDir, "--scale", "service1=2,service2=2"], {
        env: { TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT: RECONNECTION },
        onStderr: (stderr, child) => {
          if (killedAt !== 0 || !trigger.test(stderr)) return;
          killedAt = -1;
          // In deploy: once the first container exists (compose is still creating the rest).
          void pollUntil(
            `a container of ${project}`,
            120_000,
            async () => {
              peak = (await projectLeft(project)).containers;
              return peak > 0;
            },
            200,
          ).then(() => {
            child.kill("SIGKILL");
            killedAt = Date.now();
          });
        },
      });
      assert.equal(run.signal, "SIGKILL", `the pipeline was killed, not finished:\n${run.stderr.slice(-1500)}`);
      assert.ok(peak > 0, "the stack was up when the harness died");
      const seconds = await pollUntil(`containers and networks of ${project} to be gone`, GOAL_MS, async () => {
        const left = await projectLeft(project);
        return left.containers === 0 && left.networks === 0;
      });
      const total = (Date.now() - killedAt) / 1000;
      process.stderr.write(
        `kill -9 in ${stage}: ${peak}+ containers up; 0 containers and 0 networks left ${total.toFixed(1)} s after the kill (poll ${seconds.toFixed(1)} s)\n`,
      );
    });
  }
});
