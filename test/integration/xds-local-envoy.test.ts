// The control plane programming the real Envoy 1.40 binary, started from envoy/envoy-xds.yaml:
// everything Envoy runs comes over ADS; endpoints are local backend processes whose health the
// test sets as Docker events would. One control plane, one Envoy and the backends are shared by
// the file; each test leaves the endpoints as it found them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer } from "node:net";
import { ControlPlane } from "../../harness/xds/control-plane.ts";
import { xdsProblems } from "../../harness/verify/xds-envoy-state.ts";
import { TYPE, type Resource } from "../../harness/xds/protos.ts";
import { frontProxyResources, type Endpoint, type FrontProxySpec } from "../../harness/xds/resources.ts";
import { startBackend, stopChild, type Backend } from "../fixtures/local-envoy.ts";
import { StaticEndpoints } from "../support/ads-client.ts";
import { layerCheck } from "../../harness/verify/layers.ts";
import { hits, perConnection, seen } from "../support/http-hits.ts";
import { pollUntil } from "../support/poll.ts";
import { startXdsEnvoy, type XdsEnvoy } from "../support/xds-envoy.ts";

const spec: FrontProxySpec = {
  httpPort: 0,
  bindAddress: "127.0.0.1",
  lbPolicy: "ROUND_ROBIN",
  services: [
    // An L4 (tcp_proxy) listener to the same cluster, beside the HTTP one (port 0: Envoy picks).
    { cluster: "service1", path: "/service/1", tcpPort: 0 },
    { cluster: "service2", path: "/service/2" },
  ],
};

let backends: Backend[] = [];
let source: StaticEndpoints;
let cp: ControlPlane;
let envoy: XdsEnvoy;
let listenerUrl = "";
const cpLog: string[] = [];

const endpointOf = (b: Backend, health: Endpoint["health"] = "HEALTHY"): Endpoint => ({
  address: "127.0.0.1",
  port: b.port,
  health,
  hostname: b.spec.hostname,
});
const service1 = (health: Record<string, Endpoint["health"]> = {}): Endpoint[] =>
  backends.filter((b) => b.spec.serviceId === "1").map((b) => endpointOf(b, health[b.spec.hostname]));

async function startPlane(port = 0): Promise<ControlPlane> {
  return new ControlPlane({ spec, source, host: "127.0.0.1", port, log: (l) => cpLog.push(l) }).start();
}

/** Every connected Envoy acknowledged the control plane's current version of every type. */
async function envoyInSync(plane: ControlPlane): Promise<void> {
  await pollUntil(
    "Envoy to ACK the control plane's snapshot",
    async () => {
      const st = plane.status();
      const stream = st.streams.find((s) => s.node === "front-envoy");
      if (!stream) return undefined;
      for (const [short, type] of [
        ["CDS", TYPE.cluster],
        ["EDS", TYPE.endpoint],
        ["LDS", TYPE.listener],
        ["RDS", TYPE.route],
      ] as const) {
        if (stream.types[short]?.acked !== plane.cache.get(type)?.version) return undefined;
      }
      return true;
    },
    { timeoutMs: 20_000, intervalMs: 50 },
  );
}

beforeAll(async () => {
  backends = await Promise.all(
    [
      { hostname: "s1-a", serviceId: "1" },
      { hostname: "s1-b", serviceId: "1" },
      { hostname: "s1-c", serviceId: "1" },
      { hostname: "s2-a", serviceId: "2" },
    ].map((s, i) => startBackend(s, i)),
  );
  source = new StaticEndpoints({ service1: service1(), service2: [endpointOf(backends[3]!)] });
  cp = await startPlane();
  envoy = await startXdsEnvoy(cp.port);
  await pollUntil("Envoy to be ready", async () => ((await envoy.admin.ready()) ? true : undefined), { timeoutMs: 30_000, intervalMs: 50 });
  const front = (await envoy.admin.listeners()).find((l) => l.name === "front");
  if (!front) throw new Error(`no listener 'front' from the control plane: ${envoy.log()}`);
  listenerUrl = `http://${front.address}:${front.port}`;
}, 120_000);

afterAll(async () => {
  await envoy?.close();
  await cp?.close();
  await Promise.all(backends.map((b) => stopChild(b.child)));
});

describe("xds: the control plane programs the real Envoy", () => {
  it("Envoy runs only what came over ADS: the listener, routes, EDS clusters, and traffic reaches every replica", async () => {
    await envoyInSync(cp);
    const clusters = await envoy.admin.clusterConfigs();
    expect(clusters.filter((c) => c.name.startsWith("service")).map((c) => [c.name, c.type])).toEqual([
      ["service1", "EDS"],
      ["service2", "EDS"],
    ]);
    const h1 = await hits(`${listenerUrl}/service/1`, 60);
    expect(h1.failures).toEqual([]);
    expect(seen(h1)).toEqual(["s1-a", "s1-b", "s1-c"]);
    const h2 = await hits(`${listenerUrl}/service/2`, 10);
    expect(seen(h2)).toEqual(["s2-a"]);
  });

  it("two layers: over the tcp_proxy listener each connection stays on one replica, over HTTP one connection reaches all", async () => {
    const tcp = (await envoy.admin.listeners()).find((l) => l.name === "tcp_service1");
    expect(tcp).toBeDefined();
    const l4 = await perConnection(`http://${tcp!.address}:${tcp!.port}/service/1`, 6, 5);
    const [l7] = await perConnection(`${listenerUrl}/service/1`, 1, 12);
    const verdict = layerCheck({ l4Connections: l4, l7Connection: l7!, replicas: ["s1-a", "s1-b", "s1-c"] });
    expect(verdict.reason).not.toMatch(/not connection-level|not request-level|not balanced/);
    expect(verdict.passed).toBe(true);
    expect(Object.keys(verdict.l4ConnectionsPerReplica).length).toBeGreaterThan(1);
  });

  it("DRAINING and UNHEALTHY endpoints get no request; drain answers once Envoy has ACKed it", async () => {
    const drained = await cp.drain(["s1-c"]);
    expect(drained).toMatchObject({ drained: ["s1-c"], unknown: [], acked: true });
    const afterDrain = await hits(`${listenerUrl}/service/1`, 60);
    expect(afterDrain.failures).toEqual([]);
    expect(seen(afterDrain)).toEqual(["s1-a", "s1-b"]);
    const host = (await envoy.admin.cluster("service1")).hosts.find((h) => h.port === backends[2]!.port);
    expect(host?.healthFlags).toContain("eds_health_status=DRAINING");

    source.set("service1", service1({ "s1-b": "UNHEALTHY", "s1-c": "DRAINING" }));
    expect(await cp.ads.waitForAck(TYPE.endpoint, cp.cache.get(TYPE.endpoint)!.version, 5000)).toBe(true);
    const afterUnhealthy = await hits(`${listenerUrl}/service/1`, 30);
    expect(seen(afterUnhealthy)).toEqual(["s1-a"]);

    source.set("service1", service1());
    expect(await cp.ads.waitForAck(TYPE.endpoint, cp.cache.get(TYPE.endpoint)!.version, 5000)).toBe(true);
    expect(seen(await hits(`${listenerUrl}/service/1`, 60))).toEqual(["s1-a", "s1-b", "s1-c"]);
  });

  it("weights set through the control plane are honoured by Envoy's round robin", async () => {
    source.set(
      "service1",
      service1().map((e) => (e.hostname === "s1-a" ? { ...e, weight: 3 } : e)),
    );
    expect(await cp.ads.waitForAck(TYPE.endpoint, cp.cache.get(TYPE.endpoint)!.version, 5000)).toBe(true);
    const h = await hits(`${listenerUrl}/service/1`, 200, 1);
    // Weighted round robin over one connection (one worker): 3 of every 5 picks, exactly up to the
    // round in progress; unweighted it would be 1 of 3.
    const a = h.counts.get("s1-a") ?? 0;
    expect(Math.abs(a - 120)).toBeLessThanOrEqual(3);
    source.set("service1", service1());
    expect(await cp.ads.waitForAck(TYPE.endpoint, cp.cache.get(TYPE.endpoint)!.version, 5000)).toBe(true);
  });

  it("a config Envoy rejects is NACKed with Envoy's error, and the last good config stays in force", async () => {
    const resources = frontProxyResources(spec, source.endpoints());
    const bad = resources[TYPE.cluster]!.map((r): Resource => (r.name === "service2" ? { ...r, lb_policy: 99 } : r));
    const change = cp.cache.set({ ...resources, [TYPE.cluster]: bad });
    const version = change.versions[TYPE.cluster]!;
    expect(await cp.ads.waitForAck(TYPE.cluster, version, 10_000)).toBe(false);
    const nack = cp.status().nacks.find((n) => n.version === version);
    expect(nack).toBeDefined();
    expect(nack!.node).toBe("front-envoy");
    expect(nack!.message).toMatch(/service2|LbPolicy|lb_policy/i);
    // Still the last good cluster, still serving.
    expect((await envoy.admin.lbPolicy("service2")).policy).toBe("ROUND_ROBIN");
    const h2 = await hits(`${listenerUrl}/service/2`, 10);
    expect(h2.failures).toEqual([]);
    // The good snapshot again: a new version, acknowledged.
    cp.publish();
    await envoyInSync(cp);
    expect(nack!.kept).not.toBe(cp.cache.get(TYPE.cluster)!.version);
  });

  it("control plane killed mid-run: Envoy keeps serving its last config; a restarted one resyncs it under new versions", async () => {
    const port = cp.port;
    const oldVersions = Object.values(cp.status().versions);
    await cp.close();
    // Traffic continues on the last config while nobody answers on the ADS stream.
    const during = await hits(`${listenerUrl}/service/1`, 60);
    expect(during.failures).toEqual([]);
    expect(seen(during)).toEqual(["s1-a", "s1-b", "s1-c"]);

    // While it is down, replica s1-a goes away; the new control plane knows it.
    source.set(
      "service1",
      service1().filter((e) => e.hostname !== "s1-a"),
    );
    cp = await startPlane(port);
    await envoyInSync(cp);
    for (const v of Object.values(cp.status().versions)) expect(oldVersions).not.toContain(v);
    const after = await hits(`${listenerUrl}/service/1`, 40);
    expect(after.failures).toEqual([]);
    expect(seen(after)).toEqual(["s1-b", "s1-c"]);
    source.set("service1", service1());
    await envoyInSync(cp);
  });

  it("control plane down at start: Envoy has none of the stack's clusters, verify names them, until the control plane comes up", async () => {
    // A port with nothing listening (taken, then released).
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const lonely = await startXdsEnvoy(port);
    try {
      const connected = await pollUntil(
        "Envoy's control_plane.connected_state gauge",
        async () => {
          const s = await lonely.admin.stats("^control_plane\\.connected_state$");
          return s["control_plane.connected_state"];
        },
        { timeoutMs: 10_000, intervalMs: 50 },
      );
      expect(connected).toBe(0);
      const names = (await lonely.admin.clusters()).map((c) => c.name);
      expect(names).not.toContain("service1");
      // What verify says before it sends any load: each cluster by name, and why.
      expect(await xdsProblems(lonely.adminUrl, ["service1", "service2"])).toEqual([
        "cluster service1 is not in Envoy: no CDS from the control plane (Envoy is not connected to its control plane (control_plane.connected_state 0))",
        "cluster service2 is not in Envoy: no CDS from the control plane (Envoy is not connected to its control plane (control_plane.connected_state 0))",
      ]);
      const late = await startPlane(port);
      try {
        await envoyInSync(late);
        await pollUntil(
          "service1 in the late Envoy",
          async () => ((await lonely.admin.clusters()).some((c) => c.name === "service1" && c.hosts.length === 3) ? true : undefined),
          { timeoutMs: 20_000, intervalMs: 50 },
        );
        expect(await xdsProblems(lonely.adminUrl, ["service1", "service2"])).toEqual([]);
      } finally {
        await late.close();
      }
    } finally {
      await lonely.close();
    }
  });
});
