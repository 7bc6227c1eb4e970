// `--discovery xds` in the real stack: the control-plane container (node base image, Docker
// socket read-only) programs the front proxy over ADS with endpoints from Docker events. One stack
// for the file: deploy, pause/unpause, scale up, verify, scale down under load, kill the control plane.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import axios from "axios";
import { z } from "zod";
import { scale } from "../../harness/stages/scale.ts";
import { verifyStack } from "../../harness/verify/orchestrator.ts";
import { runningReplicas } from "../../harness/stack/discover.ts";
import { controlPlaneAdminUrl } from "../../harness/xds/drain.ts";
import { EnvoyAdmin } from "../../harness/envoy/admin.ts";
import { hits, seen, type Hits } from "../support/http-hits.ts";
import { pollUntil } from "../support/poll.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";

let stack: TestStack | undefined;
let admin: EnvoyAdmin;

const statusSchema = z.object({
  versions: z.record(z.string(), z.string().optional()),
  streams: z.array(z.object({ node: z.string(), types: z.record(z.string(), z.object({ acked: z.string().optional() })) })),
  nacks: z.array(z.unknown()),
});

async function controlPlaneStatus(): Promise<z.infer<typeof statusSchema>> {
  const url = await controlPlaneAdminUrl(stack!.ctx.docker, stack!.config.projectName);
  if (!url) throw new Error("no control plane running");
  return statusSchema.parse((await axios.get(`${url}/status`, { timeout: 5000 })).data);
}

/** Envoy (node front-envoy) ACKed the control plane's current version of every type. */
async function inSync(seen: (d: string) => void): Promise<true | undefined> {
  let st: z.infer<typeof statusSchema>;
  try {
    st = await controlPlaneStatus();
  } catch (err) {
    seen(`control plane: ${(err as Error).message}`);
    return undefined;
  }
  const envoy = st.streams.find((s) => s.node === "front-envoy");
  const pairs = [
    ["CDS", "cluster"],
    ["EDS", "endpoint"],
    ["LDS", "listener"],
    ["RDS", "route"],
  ] as const;
  seen(JSON.stringify({ versions: st.versions, envoy: envoy?.types ?? "not connected" }));
  return envoy && pairs.every(([short, key]) => envoy.types[short]?.acked === st.versions[key]) ? true : undefined;
}

/** Steady load on one path until stop() is called; every failure is kept. */
function steadyLoad(url: string): { stop(): Promise<Hits> } {
  let stopping = false;
  const total: Hits = { counts: new Map(), failures: [] };
  const loop = (async () => {
    while (!stopping) {
      const h = await hits(url, 20, 4);
      total.failures.push(...h.failures);
      for (const [k, v] of h.counts) total.counts.set(k, (total.counts.get(k) ?? 0) + v);
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      return total;
    },
  };
}

beforeAll(async () => {
  stack = await startTestStack("xds", { discovery: "xds", scale: { service1: 1, service2: 1 } });
  admin = new EnvoyAdmin(stack.deployed.endpoints.adminUrl);
}, 600_000);
afterAll(async () => {
  await stack?.stop();
}, 120_000);

describe("discovery xds in the stack", () => {
  it("the control plane runs from the node base image with the Docker socket read-only, and Envoy ACKed its snapshot", async () => {
    const [cp] = await stack!.ctx.docker.listContainers({
      filters: { label: [`com.docker.compose.project=${stack!.config.projectName}`, "com.docker.compose.service=control-plane"] },
    });
    expect(cp).toBeDefined();
    const info = await stack!.ctx.docker.getContainer(cp!.Id).inspect();
    const socket = info.Mounts.find((m) => m.Destination === "/var/run/docker.sock");
    expect(socket?.RW).toBe(false);
    const image = await stack!.ctx.docker.getImage(info.Image).inspect();
    const node = await stack!.ctx.docker.getImage(stack!.ctx.composeEnv.NODE_IMAGE ?? "node:24-bookworm-slim").inspect();
    // Built FROM the node base image: its layers are the first layers of the control plane's.
    expect(image.RootFS.Layers?.slice(0, node.RootFS.Layers?.length)).toEqual(node.RootFS.Layers);
    await pollUntil("Envoy in sync with the control plane", inSync, { timeoutMs: 30_000 });
    const clusters = await admin.clusterConfigs();
    expect(clusters.filter((c) => /^service\d$/.test(c.name)).map((c) => c.type)).toEqual(["EDS", "EDS"]);
    expect((await controlPlaneStatus()).nacks).toEqual([]);
  });

  it("docker pause and unpause reach Envoy as EDS health", async () => {
    const [replica] = await runningReplicas(stack!.ctx.docker, stack!.config.projectName, "service1");
    const container = stack!.ctx.docker.getContainer(replica!.name);
    const flagsOf = async (): Promise<string[] | undefined> =>
      (await admin.cluster("service1")).hosts.find((h) => h.ip === replica!.ip)?.healthFlags;
    await container.pause();
    try {
      await pollUntil(
        "Envoy to mark the paused replica UNHEALTHY",
        async () => ((await flagsOf())?.includes("eds_health_status=UNHEALTHY") ? true : undefined),
        {
          timeoutMs: 30_000,
        },
      );
      // Its only replica UNHEALTHY, service1 gets no request at all (no panic mode): Envoy answers
      // at once instead of sending the request to the paused container.
      const whilePaused = await hits(`${stack!.deployed.endpoints.listenerUrl}/service/1`, 1, 1);
      expect(whilePaused.failures).toEqual([expect.stringMatching(/^HTTP 503: .*no healthy upstream/)]);
    } finally {
      await container.unpause();
    }
    await pollUntil("Envoy to mark the unpaused replica healthy", async () => ((await flagsOf())?.length === 0 ? true : undefined), {
      timeoutMs: 30_000,
    });
  });

  it("scale up, then every check of verify passes unchanged", async () => {
    const scaled = await scale(stack!.ctx, { service1: 3, service2: 1 });
    expect(scaled.replicas.service1).toHaveLength(3);
    const outcome = await verifyStack({
      ...stack!.ctx,
      config: { ...stack!.config, scale: { service1: 3, service2: 1 }, verify: { requests: 300, concurrency: 4 } },
    });
    const failed = outcome.report.services.flatMap((s) =>
      s.checks.filter((c) => !c.passed).map((c) => `${s.service} ${c.name}: ${c.reason}`),
    );
    expect(failed).toEqual([]);
    // Envoy's two layers, with the L4 listeners the control plane serves: per connection vs per request.
    const layers = outcome.report.services.find((s) => s.service === "service1")?.layers;
    expect(layers?.l4.mixedConnections).toBe(0);
    expect(Object.keys(layers?.l4.connectionsPerReplica ?? {}).length).toBeGreaterThanOrEqual(2);
    expect(Object.keys(layers?.l7.requestsPerReplica ?? {})).toHaveLength(3);
  });

  it("scale 3 → 1 under steady load: the replicas are drained before they stop, and no request fails", async () => {
    const load = steadyLoad(`${stack!.deployed.endpoints.listenerUrl}/service/1`);
    await scale(stack!.ctx, { service1: 1, service2: 1 });
    const result = await load.stop();
    expect(result.failures).toEqual([]);
    expect([...result.counts.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(await runningReplicas(stack!.ctx.docker, stack!.config.projectName, "service1")).toHaveLength(1);
  });

  it("control plane killed mid-run: traffic continues on the last config, and it resyncs when it is back", async () => {
    const [cp] = await stack!.ctx.docker.listContainers({
      filters: { label: [`com.docker.compose.project=${stack!.config.projectName}`, "com.docker.compose.service=control-plane"] },
    });
    const container = stack!.ctx.docker.getContainer(cp!.Id);
    await container.kill();
    const during = await hits(`${stack!.deployed.endpoints.listenerUrl}/service/1`, 40);
    expect(during.failures).toEqual([]);
    const [only] = await runningReplicas(stack!.ctx.docker, stack!.config.projectName, "service1");
    expect(seen(during)).toEqual([only!.hostname]);
    await container.start();
    await pollUntil("Envoy to resync with the restarted control plane", inSync, { timeoutMs: 60_000, intervalMs: 250 });
  });
});
