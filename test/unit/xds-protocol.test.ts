// The ADS server against a real gRPC ADS client (grpc-js, Envoy's protos): versions and nonces per
// type, ACK, NACK (the last good config stays, the error is reported), stale nonces, CDS before
// EDS, no EDS for clusters the client does not know, resync after a restart, versions never reused.
import { afterEach, describe, expect, it } from "vitest";
import { ControlPlane } from "../../harness/xds/control-plane.ts";
import { TYPE, type Resource } from "../../harness/xds/protos.ts";
import { frontProxyResources, type Endpoint, type FrontProxySpec } from "../../harness/xds/resources.ts";
import { adsClient, StaticEndpoints, type AdsTestClient } from "../support/ads-client.ts";

const spec: FrontProxySpec = {
  httpPort: 8080,
  bindAddress: "0.0.0.0",
  lbPolicy: "ROUND_ROBIN",
  services: [
    { cluster: "service1", path: "/service/1" },
    { cluster: "service2", path: "/service/2" },
  ],
};
const ep = (address: string, health: Endpoint["health"] = "HEALTHY"): Endpoint => ({ address, port: 8080, health, hostname: address });

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function startPlane(source = new StaticEndpoints({ service1: [ep("10.0.0.1")], service2: [ep("10.0.0.2")] })) {
  const cp = await new ControlPlane({ spec, source, host: "127.0.0.1", port: 0 }).start();
  open.push(cp);
  return { cp, source };
}
function connect(cp: ControlPlane, node = "front-envoy"): AdsTestClient {
  const c = adsClient(`127.0.0.1:${cp.port}`, node);
  open.push(c);
  return c;
}
const names = (res: { resources: { [k: string]: unknown }[] }): string[] =>
  res.resources.map((r) => String(r["@type"] === TYPE.endpoint ? r.cluster_name : r.name));

describe("ADS server", () => {
  it("serves CDS to a wildcard subscription and EDS only for the clusters the client named; an ACK is recorded", async () => {
    const { cp } = await startPlane();
    const c = connect(cp);
    c.send({ type_url: TYPE.cluster });
    const cds = await c.next();
    expect(cds.type_url).toBe(TYPE.cluster);
    expect(names(cds)).toEqual(["service1", "service2"]);
    expect(cds.nonce).not.toBe("");
    c.ack(cds);
    // "ghost" is no cluster of the snapshot: nothing is sent for it; service2 was not asked for.
    c.send({ type_url: TYPE.endpoint, resource_names: ["service1", "ghost"] });
    const eds = await c.next();
    expect(eds.type_url).toBe(TYPE.endpoint);
    expect(names(eds)).toEqual(["service1"]);
    c.ack(eds, ["service1", "ghost"]);
    const acked = await cp.ads.waitForAck(TYPE.endpoint, eds.version_info, 5000);
    expect(acked).toBe(true);
    const st = cp.status().streams[0];
    expect(st?.node).toBe("front-envoy");
    expect(st?.types.CDS?.acked).toBe(cds.version_info);
    expect(st?.types.EDS?.acked).toBe(eds.version_info);
    expect(cds.version_info).not.toBe(eds.version_info);
  });

  it("an endpoint change is a new EDS version only: CDS is not resent", async () => {
    const { cp, source } = await startPlane();
    const c = connect(cp);
    c.send({ type_url: TYPE.cluster });
    const cds = await c.next();
    c.ack(cds);
    c.send({ type_url: TYPE.endpoint, resource_names: ["service1", "service2"] });
    const eds1 = await c.next();
    c.ack(eds1, ["service1", "service2"]);
    source.set("service1", [ep("10.0.0.1"), ep("10.0.0.3", "DRAINING")]);
    const eds2 = await c.next();
    expect(eds2.type_url).toBe(TYPE.endpoint);
    expect(eds2.version_info).not.toBe(eds1.version_info);
    const s1 = eds2.resources.find((r) => r.cluster_name === "service1") as unknown as {
      endpoints: { lb_endpoints: { health_status: string; endpoint: { address: { socket_address: { address: string } } } }[] }[];
    };
    expect(s1.endpoints[0]?.lb_endpoints.map((l) => [l.endpoint.address.socket_address.address, l.health_status])).toEqual([
      ["10.0.0.1", "HEALTHY"],
      ["10.0.0.3", "DRAINING"],
    ]);
    expect(cp.cache.get(TYPE.cluster)?.version).toBe(cds.version_info);
  });

  it("a NACK keeps the last good version, is reported with Envoy's error detail, and the rejected version is not resent", async () => {
    const { cp, source } = await startPlane();
    const c = connect(cp);
    c.send({ type_url: TYPE.cluster });
    const good = await c.next();
    c.ack(good);
    c.send({ type_url: TYPE.endpoint, resource_names: ["service1", "service2"] });
    const eds = await c.next();
    c.ack(eds, ["service1", "service2"]);

    // A cluster Envoy must reject: an lb_policy value outside the enum.
    const resources = frontProxyResources(spec, source.endpoints());
    const clusters = resources[TYPE.cluster]!.map((r): Resource => (r.name === "service2" ? { ...r, lb_policy: 99 } : r));
    cp.cache.set({ ...resources, [TYPE.cluster]: clusters });
    const bad = await c.next();
    expect(bad.type_url).toBe(TYPE.cluster);
    expect(bad.version_info).not.toBe(good.version_info);
    c.nack(
      bad,
      good.version_info,
      "Proto constraint validation failed (ClusterValidationError.LbPolicy: value must be one of the defined enum values)",
    );
    const rejected = await cp.ads.waitForAck(TYPE.cluster, bad.version_info, 5000);
    expect(rejected).toBe(false);
    const { nacks, streams } = cp.status();
    expect(nacks).toHaveLength(1);
    expect(nacks[0]).toMatchObject({ type: "CDS", node: "front-envoy", version: bad.version_info, kept: good.version_info });
    expect(nacks[0]?.message).toMatch(/LbPolicy/);
    expect(streams[0]?.types.CDS?.acked).toBe(good.version_info);

    // The same (rejected) clusters with new endpoints: the next response on the stream is that
    // EDS change, not the rejected CDS again.
    const moved = frontProxyResources(
      spec,
      new Map([
        ["service1", [ep("10.0.0.1")]],
        ["service2", [ep("10.0.0.4")]],
      ]),
    );
    cp.cache.set({ ...moved, [TYPE.cluster]: clusters });
    const next = await c.next();
    expect(next.type_url).toBe(TYPE.endpoint);
    c.ack(next, ["service1", "service2"]);
    // A corrected snapshot is sent under a new version.
    cp.publish();
    const fixed = await c.next();
    expect(fixed.type_url).toBe(TYPE.cluster);
    expect([good.version_info, bad.version_info]).not.toContain(fixed.version_info);
    c.ack(fixed);
    expect(await cp.ads.waitForAck(TYPE.cluster, fixed.version_info, 5000)).toBe(true);
  });

  it("ignores a request with a stale nonce", async () => {
    const { cp, source } = await startPlane();
    const c = connect(cp);
    c.send({ type_url: TYPE.cluster });
    const cds = await c.next();
    c.ack(cds);
    c.send({ type_url: TYPE.endpoint, resource_names: ["service1"] });
    const eds1 = await c.next();
    c.ack(eds1, ["service1"]);
    source.set("service1", [ep("10.0.0.9")]);
    const eds2 = await c.next();
    // An answer to the older response: must not count as an ACK of eds2.
    c.send({ type_url: TYPE.endpoint, version_info: eds1.version_info, response_nonce: eds1.nonce, resource_names: ["service1"] });
    c.ack(eds2, ["service1"]);
    expect(await cp.ads.waitForAck(TYPE.endpoint, eds2.version_info, 5000)).toBe(true);
    expect(cp.status().streams[0]?.types.EDS?.acked).toBe(eds2.version_info);
  });

  it("sends CDS before EDS when one change touches both", async () => {
    const { cp } = await startPlane();
    const c = connect(cp);
    c.send({ type_url: TYPE.cluster });
    const cds = await c.next();
    c.ack(cds);
    c.send({ type_url: TYPE.endpoint, resource_names: ["service1", "service2"] });
    const eds = await c.next();
    c.ack(eds, ["service1", "service2"]);
    // Both watches are open; one snapshot changes clusters and endpoints.
    const resources = frontProxyResources(
      spec,
      new Map([
        ["service1", [ep("10.0.0.7")]],
        ["service2", [ep("10.0.0.2")]],
      ]),
    );
    cp.cache.set({ ...resources, [TYPE.cluster]: resources[TYPE.cluster]!.map((r) => ({ ...r, lb_policy: "RANDOM" })) });
    const first = await c.next();
    const second = await c.next();
    expect([first.type_url, second.type_url]).toEqual([TYPE.cluster, TYPE.endpoint]);
  });

  it("never reuses a version: same content again is a new version, and a restarted control plane resyncs a reconnecting client", async () => {
    const { cp, source } = await startPlane();
    const seen = new Set<string>();
    const a = connect(cp);
    a.send({ type_url: TYPE.endpoint, resource_names: ["service1"] });
    let res = await a.next();
    seen.add(res.version_info);
    for (const address of ["10.0.0.5", "10.0.0.1", "10.0.0.5"]) {
      a.ack(res, ["service1"]);
      source.set("service1", [ep(address)]);
      res = await a.next();
      expect(seen.has(res.version_info)).toBe(false);
      seen.add(res.version_info);
    }
    a.ack(res, ["service1"]);
    const last = res.version_info;
    await a.close();
    await cp.close();
    open.splice(open.indexOf(cp), 1);

    // The control plane restarts with the same endpoints; the client comes back with its version.
    const again = await startPlane(new StaticEndpoints({ service1: [ep("10.0.0.5")], service2: [ep("10.0.0.2")] }));
    const b = connect(again.cp);
    b.send({ type_url: TYPE.endpoint, version_info: last, resource_names: ["service1"] });
    const resync = await b.next();
    expect(names(resync)).toEqual(["service1"]);
    expect(seen.has(resync.version_info)).toBe(false);
    b.ack(resync, ["service1"]);

    // Reconnecting to the same control plane with its current version: nothing to resend, so the
    // first response on the new stream is the next change.
    await b.close();
    const c = connect(again.cp);
    c.send({ type_url: TYPE.endpoint, version_info: resync.version_info, resource_names: ["service1"] });
    again.source.set("service1", [ep("10.0.0.6")]);
    const change = await c.next();
    expect(change.version_info).not.toBe(resync.version_info);
    expect(JSON.stringify(change.resources)).toContain("10.0.0.6");
  });
});
