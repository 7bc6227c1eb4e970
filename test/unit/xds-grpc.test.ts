// The control plane's gRPC resources: they encode (every field known to Envoy's API, checked by
// encodeResource) and say what envoy/envoy.yaml says: HTTP/2 upstream, gRPC health checks,
// grpc_stats before the router, :authority virtual hosts, L4 listeners to the gRPC clusters.
import { strict as assert } from "node:assert";
import { describe, it } from "vitest";
import { encodeResource, TYPE } from "../../harness/xds/protos.ts";
import { frontProxyResources, type FrontProxySpec } from "../../harness/xds/resources.ts";

const spec: FrontProxySpec = {
  httpPort: 8080,
  bindAddress: "127.0.0.1",
  lbPolicy: "ROUND_ROBIN",
  services: [{ cluster: "service1", path: "/service/1", tcpPort: 8081, grpc: { port: 50051, tcpPort: 50051 } }],
};
const endpoints = new Map([["service1", [{ address: "172.20.0.5", port: 8080, health: "HEALTHY" as const }]]]);

// biome-ignore lint/suspicious/noExplicitAny: Envoy resources are plain objects here, walked untyped in the assertions
type Json = Record<string, any>;

describe("xds gRPC resources", () => {
  const r = frontProxyResources(spec, endpoints);
  it("encode, every one", () => {
    for (const list of Object.values(r)) for (const res of list) assert.ok(encodeResource(res).length > 0);
  });
  it("an HTTP/2, gRPC-health-checked cluster on the replicas' gRPC port", () => {
    const c = (r[TYPE.cluster] ?? []).find((x) => x.name === "service1_grpc") as Json;
    const opts = c.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
    assert.deepEqual(opts.explicit_http_config, { http2_protocol_options: {} });
    assert.equal(c.health_checks[0].grpc_health_check.service_name, "envoypipeline.v1.Whoami");
    const la = (r[TYPE.endpoint] ?? []).find((x) => x.cluster_name === "service1_grpc") as Json;
    assert.equal(la.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value, 50051);
  });
  it("routes gRPC by :authority with retries on unavailable; grpc_stats before the router; an L4 listener", () => {
    const vh = ((r[TYPE.route] ?? [])[0] as Json).virtual_hosts[0];
    assert.deepEqual(vh.domains, ["service1", "service1:*"]);
    assert.match(vh.routes[0].route.retry_policy.retry_on, /unavailable/);
    const front = (r[TYPE.listener] ?? []).find((x) => x.name === "front") as Json;
    const filters = front.filter_chains[0].filters[0].typed_config.http_filters.map((f: { name: string }) => f.name);
    assert.deepEqual(filters, ["envoy.filters.http.grpc_stats", "envoy.filters.http.router"]);
    const l4 = (r[TYPE.listener] ?? []).find((x) => x.name === "tcp_grpc_service1") as Json;
    assert.equal(l4.filter_chains[0].filters[0].typed_config.cluster, "service1_grpc");
  });
});
