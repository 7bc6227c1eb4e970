// The generated Envoy configuration: for the demo it is envoy/envoy.yaml (plus the identity
// header); for a team's stack it carries their prefixes, rewrites, policies and protocols.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, it } from "vitest";
import { envoyConfigObject, IDENTITY_HEADER, renderEnvoyConfig } from "../../harness/render/envoy-config.ts";
import { repoRoot } from "../../harness/lib/paths.ts";
import { demoStack, loadStackFile } from "../../harness/stackfile/index.ts";

// biome-ignore lint/suspicious/noExplicitAny: the test walks parsed YAML by known paths
type Json = Record<string, any>;
const vhostOf = (config: Json): Json =>
  config.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0];

function teamStack(services: string) {
  const dir = mkdtempSync(join(tmpdir(), "ep-envoy-config-"));
  writeFileSync(
    join(dir, "compose.yml"),
    "services:\n  orders: { image: a, expose: ['3000'] }\n  payments: { image: b, expose: ['8000'] }\n",
  );
  writeFileSync(join(dir, "envoy-pipeline.yaml"), `compose: compose.yml\nservices:\n${services}`);
  return loadStackFile(join(dir, "envoy-pipeline.yaml"));
}

/** envoy.yaml less its gRPC parts (grpc_* virtual hosts, *_grpc clusters and listeners, grpc_stats): the generator has no `protocol: grpc` yet. */
function withoutGrpc(config: Json): Json {
  const res = config.static_resources;
  res.clusters = res.clusters.filter((c: Json) => !String(c.name).endsWith("_grpc"));
  res.listeners = res.listeners.filter((l: Json) => !String(l.name).includes("grpc"));
  const hcm = res.listeners[0].filter_chains[0].filters[0].typed_config;
  hcm.route_config.virtual_hosts = hcm.route_config.virtual_hosts.filter((v: Json) => !String(v.name).startsWith("grpc_"));
  hcm.http_filters = hcm.http_filters.filter((f: Json) => f.name !== "envoy.filters.http.grpc_stats");
  return config;
}

describe("generated Envoy configuration", () => {
  it("for the demo stack equals envoy/envoy.yaml, but for Envoy naming the upstream", () => {
    const shipped = parse(readFileSync(join(repoRoot, "envoy", "envoy.yaml"), "utf8"), { merge: true }) as Json;
    const generated = parse(renderEnvoyConfig(demoStack()), { merge: true }) as Json;
    const vhost = vhostOf(generated);
    assert.deepEqual(vhost.response_headers_to_add, [
      { header: { key: IDENTITY_HEADER, value: "%UPSTREAM_REMOTE_ADDRESS%" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" },
    ]);
    delete vhost.response_headers_to_add;
    assert.deepEqual(generated, withoutGrpc(shipped));
  });

  it("routes a team's prefixes longest first, with their rewrite, policy, health path and protocol", () => {
    const config = envoyConfigObject(
      teamStack(
        "  orders: { route: /api/, rewrite: /, health: /health, policy: least_request }\n" +
          "  payments: { route: /api/payments/, rewrite: /, policy: ring_hash, hashHeader: x-user, protocol: http2 }\n",
      ),
    ) as Json;
    assert.deepEqual(vhostOf(config).routes, [
      {
        match: { prefix: "/api/payments/" },
        route: { cluster: "payments", timeout: "5s", prefix_rewrite: "/", hash_policy: [{ header: { header_name: "x-user" } }] },
      },
      { match: { prefix: "/api/" }, route: { cluster: "orders", timeout: "5s", prefix_rewrite: "/" } },
    ]);
    const [orders, payments] = config.static_resources.clusters as Json[];
    assert.equal(orders?.lb_policy, "LEAST_REQUEST");
    assert.deepEqual(orders?.health_checks[0].http_health_check, { path: "/health" });
    assert.deepEqual(orders?.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, {
      address: "orders",
      port_value: 3000,
    });
    assert.equal(payments?.lb_policy, "RING_HASH");
    assert.deepEqual(
      payments?.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config,
      {
        http2_protocol_options: {},
      },
    );
    assert.deepEqual(payments?.health_checks[0].http_health_check, { path: "/healthz", codec_client_type: "HTTP2" });
    assert.deepEqual(
      (config.static_resources.listeners as Json[]).map((l) => [l.name, l.address.socket_address.port_value]),
      [
        ["front", 8080],
        ["tcp_orders", 8081],
        ["tcp_payments", 8082],
      ],
    );
  });

  it("refuses weights in dns mode, naming the field", () => {
    assert.throws(
      () => envoyConfigObject(teamStack("  orders: { route: /o/, weights: { '1': 3 } }\n")),
      /services\.orders\.weights: needs discovery xds/,
    );
  });
});
