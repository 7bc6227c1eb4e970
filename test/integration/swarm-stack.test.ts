// The pipeline's stages on a real three-node swarm (the throwaway cluster of Docker-in-Docker
// nodes), one cluster and one stack for the whole file. What a cluster shows that one host cannot,
// each with its figure on stderr (lines starting `figure:`): replicas spread over the nodes, each
// serving its share; a rolling image update under the verifier's load and its failed requests; a
// node stopped and the time until verify passes again on the rescheduled tasks; and a backend on
// swarm's default virtual IP failing the per-request check. (This kernel has no IPVS: the VIP
// reaches no replica at all here, so every load-balancing check refuses it; on a kernel with IPVS
// the per-request check is the one that sees its per-connection spreading.)
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../harness/config.ts";
import { docker } from "../../harness/docker/engine.ts";
import { mustRun } from "../../harness/docker/exec.ts";
import { EnvoyAdmin } from "../../harness/envoy/admin.ts";
import { pollUntil } from "../../harness/lib/poll.ts";
import { waitForEnvoy } from "../../harness/stack/envoy-wait.ts";
import { routeFor } from "../../harness/stack/routes.ts";
import { build } from "../../harness/stages/build.ts";
import { type StageContext, stageContext } from "../../harness/stages/context.ts";
import { deploy } from "../../harness/stages/deploy.ts";
import { scaleMeasured } from "../../harness/stages/scale.ts";
import { verifyStack } from "../../harness/verify/orchestrator.ts";
import { type Cluster, clusterDown, clusterUp } from "../../harness/targets/swarm/cluster.ts";
import { connectSwarm } from "../../harness/targets/swarm/connection.ts";
import { swarmModel, swarmUp, waitForTasks } from "../../harness/targets/swarm/stack.ts";
import { serviceTasks, stackService, swarmNodes } from "../../harness/targets/swarm/tasks.ts";
import { runLoad, Tally } from "../../harness/verify/load.ts";
import { runVerify } from "../../harness/verify/run.ts";
import { testProjectName } from "../support/names.ts";

const clusterName = testProjectName("swarm-nodes");
const project = testProjectName("swarm-stack");
const host = docker();
const figure = (line: string): void => {
  process.stderr.write(`figure: ${line}\n`);
};
let cluster: Cluster | undefined;
let ctx: StageContext | undefined;
let reportDir: string;
const previousCluster = process.env.ENVOY_PIPELINE_CLUSTER;

const c = (): StageContext => {
  if (!ctx) throw new Error("the swarm stack was not deployed (see beforeAll)");
  return ctx;
};
const nodes = (): Cluster => {
  if (!cluster) throw new Error("no cluster (see beforeAll)");
  return cluster;
};

beforeAll(async () => {
  reportDir = await mkdtemp(join(tmpdir(), "envoy-pipeline-swarm-"));
  cluster = (await clusterUp(host, { name: clusterName, nodes: 3, timeoutMs: 180_000 })).cluster;
  process.env.ENVOY_PIPELINE_CLUSTER = clusterName;
  const config = loadConfig({
    env: {},
    cli: { projectName: project, target: "swarm", reportDir, verify: { requests: 300 }, waitTimeoutSeconds: 300 },
  });
  ctx = await stageContext(config);
  await build(ctx);
  await deploy(ctx);
  await scaleMeasured(ctx);
}, 1_200_000);

afterAll(async () => {
  try {
    if (ctx) await ctx.target.down();
  } finally {
    await clusterDown(host, clusterName);
    if (previousCluster === undefined) delete process.env.ENVOY_PIPELINE_CLUSTER;
    else process.env.ENVOY_PIPELINE_CLUSTER = previousCluster;
    await rm(reportDir, { recursive: true, force: true });
  }
}, 600_000);

/** The node (hostname) of each running task of a service. */
const runningOn = async (service: string): Promise<string[]> => {
  const known = await swarmNodes(nodes().manager.docker);
  return (await serviceTasks(nodes().manager.docker, project, service))
    .filter((t) => t.DesiredState === "running" && t.Status.State === "running")
    .map((t) => known.get(t.NodeID ?? "")?.hostname ?? "?");
};

describe("the stages on a three-node swarm", () => {
  it("spreads each service's replicas over the nodes, and every replica serves its share through Envoy", async () => {
    for (const service of ["service1", "service2"]) {
      const on = await runningOn(service);
      figure(`${service} replicas on ${on.join(", ")}`);
      expect(on.length).toBe(3);
      expect(new Set(on).size).toBeGreaterThanOrEqual(2);
    }
    const outcome = await verifyStack(c());
    process.stderr.write(`${outcome.table}\n`);
    expect(outcome.passed).toBe(true);
  });

  it("a rolling image update (start-first) under the verifier's load: no request fails", async () => {
    const image = swarmModel(c().config.composeFile, c().config.scale, c().composeEnv).backends[0]?.image ?? "";
    const next = `${image}-v2`;
    // The next image on every node: the same content under a new reference, so swarm replaces every task.
    await Promise.all(nodes().nodes.map((n) => mustRun("docker", ["-H", `tcp://${n.ip}:2375`, "tag", image, next])));
    const { listenerUrl, adminUrl } = await c().locator.endpoints();
    const admin = new EnvoyAdmin(adminUrl);
    const statsFilter =
      "^cluster\\.service1\\.(upstream_rq_retry|upstream_rq_retry_overflow|upstream_cx_connect_fail|upstream_cx_connect_timeout|upstream_rq_503)$";
    const before = await admin.stats(statsFilter);
    const stop = new AbortController();
    const route = routeFor("service1");
    const tally = new Tally(route.id);
    const load = runLoad({
      listenerUrl,
      path: route.path,
      requests: 10_000_000,
      concurrency: 4,
      connections: 4,
      signal: stop.signal,
      tally,
    });
    const t0 = Date.now();
    try {
      await mustRun(
        "docker",
        [
          "-H",
          `tcp://${nodes().manager.ip}:2375`,
          "service",
          "update",
          "--detach=false",
          "--quiet",
          "--update-order",
          "start-first",
          "--image",
          next,
          stackService(project, "service1"),
        ],
        { what: "docker service update --image" },
      );
    } finally {
      stop.abort();
      await load.catch(() => undefined);
    }
    const seconds = (Date.now() - t0) / 1000;
    const after = await admin.stats(statsFilter);
    const grew = Object.entries(after)
      .map(([k, v]) => `${k.replace("cluster.service1.", "")} +${v - (before[k] ?? 0)}`)
      .join(", ");
    const failed = tally.sent - tally.ok;
    const kinds = [...tally.failures.values()].map((f) => `${f.status ?? f.kind} ${f.detail} ×${f.count}`).join("; ");
    figure(
      `rolling update of service1 (3 replicas, start-first) in ${seconds.toFixed(1)}s under load: ${tally.sent} requests, ${failed} failed${kinds ? ` (${kinds})` : ""}; ${tally.replicas.size} hostnames answered; Envoy: ${grew}`,
    );
    expect(tally.sent).toBeGreaterThan(0);
    // The three old tasks answered before the update, the three new ones during it.
    expect(tally.replicas.size).toBe(6);
    expect(failed).toBe(0);
    await waitForEnvoy(c(), await c().locator.endpoints(), ["service1"]);
  });

  it("a node stopped: its tasks are rescheduled and verify passes again with the new hostnames", async () => {
    const victim = nodes().nodes.find((n) => n.role === "worker" && n.name.endsWith("worker2"));
    if (!victim) throw new Error("no worker2 in the cluster");
    const replicasNow = async () => [...(await c().locator.replicas("service1")), ...(await c().locator.replicas("service2"))];
    const before = new Set((await replicasNow()).map((r) => r.hostname));
    const t0 = Date.now();
    await host.getContainer(victim.name).stop({ t: 0 });
    // The manager declares the node down after missed heartbeats; only then does it reschedule.
    await pollUntil(
      async () =>
        [...(await swarmNodes(nodes().manager.docker)).values()].some((n) => n.hostname === victim.name && n.state !== "ready")
          ? true
          : undefined,
      { timeoutMs: 120_000, intervalMs: 250, what: `${victim.name} declared down` },
    );
    const down = (Date.now() - t0) / 1000;
    await waitForTasks(await connectSwarm(c().docker), project, c().config.scale, 300_000);
    const rescheduled = (Date.now() - t0) / 1000;
    await waitForEnvoy(c(), await c().locator.endpoints(), ["service1", "service2"]);
    const outcome = await verifyStack(c());
    const seconds = (Date.now() - t0) / 1000;
    const after = (await replicasNow()).map((r) => r.hostname);
    figure(
      `node ${victim.name} stopped: declared down after ${down.toFixed(1)}s, tasks running elsewhere after ${rescheduled.toFixed(1)}s, verify passed ${seconds.toFixed(1)}s after the stop; new hostnames: ${after.filter((h) => !before.has(h)).join(", ")}`,
    );
    if (!outcome.passed) process.stderr.write(`${outcome.table}\n`);
    expect(outcome.passed).toBe(true);
    expect(after.some((h) => !before.has(h))).toBe(true);
    for (const service of ["service1", "service2"]) expect(await runningOn(service)).not.toContain(victim.name);
  });

  it("a backend on swarm's default virtual IP fails the per-request check", async () => {
    const swarm = await connectSwarm(c().docker);
    await swarmUp(swarm, {
      stack: project,
      model: swarmModel(c().config.composeFile, c().config.scale, c().composeEnv),
      listenerPort: 0,
      adminPort: 0,
      timeoutMs: 300_000,
      vipBackends: ["service2"],
      replicas: 3,
    });
    const endpoints = await c().locator.endpoints();
    const route = routeFor("service2");
    const report = await runVerify({
      listenerUrl: endpoints.listenerUrl,
      adminUrl: endpoints.adminUrl,
      services: [
        {
          service: "service2",
          path: route.path,
          cluster: route.cluster,
          replicas: await c().locator.replicas("service2"),
          expect: "uniform",
        },
      ],
      requests: 150,
    });
    const checks = report.services[0]?.checks ?? [];
    for (const check of checks) figure(`VIP service2 ${check.name}: ${check.passed ? "PASS" : "FAIL"}: ${check.reason}`);
    expect(checks.find((x) => x.name === "per-request")?.passed).toBe(false);
    expect(report.passed).toBe(false);
  });
});
