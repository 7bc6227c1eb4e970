// kill -9 of `envoy-pipeline pipeline --target swarm` on a real (one-node) throwaway swarm: the
// reaper the pipeline started on the manager (harness/targets/swarm/reaper.ts) removes the
// stack's services, task containers, networks and configs, and leaves the cluster itself alone.
// The figure (kill -> clean manager) is printed on stderr as `figure: ...`.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { docker } from "../../harness/docker/engine.ts";
import { type Cluster, CLUSTER_LABEL, clusterDown, clusterUp } from "../../harness/targets/swarm/cluster.ts";
import { REAPER_OF_LABEL } from "../../harness/targets/swarm/reaper.ts";
import { STACK_LABEL } from "../../harness/targets/swarm/tasks.ts";
import { pollUntil, runCli } from "../support/cli.ts";
import { testProjectName } from "../support/names.ts";

const clusterName = testProjectName("swarm-reaper");
const project = testProjectName("swarm-kill");
const host = docker();
/** The promise: nothing of a killed run is left on the manager this long after the kill. */
const GOAL_MS = 60_000;
/** Short reconnection timeout in tests (Ryuk's default is 10 s): quick, same behaviour. */
const RECONNECTION = "2s";
let cluster: Cluster | undefined;
const reportDir = mkdtempSync(join(tmpdir(), "ept-swarm-kill-"));

const nodes = (): Cluster => {
  if (!cluster) throw new Error("no cluster (see beforeAll)");
  return cluster;
};

/** What of the stack (and of its reaper) the manager still has. */
async function left(): Promise<Record<"services" | "containers" | "networks" | "configs" | "reapers", number>> {
  const manager = nodes().manager.docker;
  const filters = { label: [`${STACK_LABEL}=${project}`] };
  return {
    services: (await manager.listServices({ filters })).length,
    containers: (await manager.listContainers({ all: true, filters })).length,
    networks: (await manager.listNetworks({ filters })).length,
    configs: (await manager.listConfigs({ filters })).length,
    reapers: (await manager.listContainers({ all: true, filters: { label: [`${REAPER_OF_LABEL}=${project}`] } })).length,
  };
}

beforeAll(async () => {
  cluster = (await clusterUp(host, { name: clusterName, nodes: 1, timeoutMs: 180_000 })).cluster;
}, 300_000);

afterAll(async () => {
  await clusterDown(host, clusterName);
  rmSync(reportDir, { recursive: true, force: true });
}, 300_000);

describe("kill -9 of a swarm pipeline", () => {
  it("leaves no service, task container, network or config of its stack on the manager, and the cluster's nodes running", async () => {
    let killedAt = 0;
    let peak = { services: 0, containers: 0, networks: 0, configs: 0, reapers: 0 };
    const run = await runCli(["pipeline", "--target", "swarm", "--project", project, "--report-dir", reportDir], {
      env: { ENVOY_PIPELINE_CLUSTER: clusterName, TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT: RECONNECTION },
      onStderr: (stderr, child) => {
        if (killedAt !== 0 || !/docker stack deploy|swarm tasks of/.test(stderr)) return;
        killedAt = -1;
        // Once the stack's services and their first task containers exist (swarm is still starting the rest).
        void pollUntil(
          `the services of ${project}`,
          180_000,
          async () => {
            peak = await left();
            return peak.services > 0 && peak.containers > 0;
          },
          200,
        ).then(
          () => {
            child.kill("SIGKILL");
            killedAt = Date.now();
          },
          () => child.kill("SIGKILL"),
        );
      },
    });
    assert.equal(run.signal, "SIGKILL", `the pipeline was killed, not finished:\n${run.stderr.slice(-1500)}`);
    assert.ok(
      peak.services > 0 && peak.containers > 0 && peak.reapers === 1,
      `the stack and its reaper were up when the harness died: ${JSON.stringify(peak)}`,
    );
    await pollUntil(`the stack ${project} gone from the manager`, GOAL_MS, async () => {
      const now = await left();
      return Object.values(now).every((n) => n === 0);
    });
    const seconds = (Date.now() - killedAt) / 1000;
    process.stderr.write(
      `figure: kill -9 of pipeline --target swarm with ${peak.services} services, ${peak.containers} task containers, ${peak.networks} networks, ${peak.configs} configs on the manager: 0 services, containers, networks, configs and reapers on the manager ${seconds.toFixed(1)} s after the kill (RYUK_RECONNECTION_TIMEOUT ${RECONNECTION})\n`,
    );
    // The cluster itself is untouched: its node runs and is still a ready swarm manager.
    const nodeContainers = await host.listContainers({ filters: { label: [`${CLUSTER_LABEL}=${clusterName}`], status: ["running"] } });
    assert.equal(nodeContainers.length, 1);
    const swarmNodes = await nodes().manager.docker.listNodes();
    assert.deepEqual(
      swarmNodes.map((n) => n.Status?.State),
      ["ready"],
    );
  }, 400_000);
});
