// EnvoyAdmin's additions for the verifier (server_info, lb policy from config_dump, stats,
// listeners), against a fake admin server on 127.0.0.1 answering in Envoy 1.40's shapes.
import { strict as assert } from "node:assert";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, it } from "vitest";
import { EnvoyAdmin, EnvoyAdminError } from "../../harness/envoy/admin.ts";
import { snapshotCluster } from "../../harness/verify/envoy-view.ts";

const staticClusters = {
  configs: [
    {
      "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump.StaticCluster",
      cluster: { "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", name: "service1", type: "STRICT_DNS" },
      last_updated: "2026-01-01T00:00:00Z",
    },
    {
      "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump.StaticCluster",
      cluster: { name: "service2", type: "STATIC", lb_policy: "LEAST_REQUEST", least_request_lb_config: { choice_count: 3 } },
    },
    {
      cluster: {
        name: "service3",
        load_balancing_policy: {
          policies: [
            {
              typed_extension_config: {
                name: "envoy.load_balancing_policies.random",
                typed_config: { "@type": "type.googleapis.com/envoy.extensions.load_balancing_policies.random.v3.Random" },
              },
            },
          ],
        },
      },
    },
  ],
};

const routes: Record<string, unknown> = {
  "/server_info": {
    version: "x/1.40.0/Clean/RELEASE/BoringSSL",
    state: "LIVE",
    command_line_options: { concurrency: 4, mode: "Serve" },
    node: {},
  },
  "/config_dump?resource=static_clusters": staticClusters,
  "/config_dump?resource=dynamic_active_clusters": {},
  "/clusters?format=json": {
    cluster_statuses: [
      {
        name: "service1",
        host_statuses: [
          {
            address: { socket_address: { address: "172.20.0.5", port_value: 8080 } },
            stats: [{ name: "cx_connect_fail" }, { name: "rq_total", value: "42" }, { name: "rq_active", type: "GAUGE" }],
            health_status: { eds_health_status: "HEALTHY" },
            weight: 1,
          },
        ],
      },
    ],
  },
  "/listeners?format=json": {
    listener_statuses: [{ name: "front", local_address: { socket_address: { address: "0.0.0.0", port_value: 8080 } } }],
  },
};

let server: Server;
let base: string;
let lastStatsQuery = "";
let brokenClusters = false;

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? "";
    if (url.startsWith("/stats?")) {
      lastStatsQuery = decodeURIComponent(url);
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          stats: [
            { name: "cluster.service1.upstream_rq_total", value: 42 },
            { name: "cluster.service1.upstream_rq_retry", value: 2 },
            { name: "listener.0.0.0.0_8080.worker_0.downstream_cx_total", value: 3 },
            { name: "listener.0.0.0.0_8080.worker_1.downstream_cx_total", value: 5 },
            { histograms: { supported_quantiles: [0.5], computed_quantiles: [] } },
          ],
        }),
      );
      return;
    }
    if (url === "/clusters?format=json" && brokenClusters) {
      res.writeHead(200).end(JSON.stringify({ cluster_statuses: [{ name: 7 }] }));
      return;
    }
    const body = routes[url];
    if (body === undefined) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe("EnvoyAdmin for the verifier", () => {
  it("reads server info and the worker count", async () => {
    const admin = new EnvoyAdmin(base);
    assert.deepEqual(await admin.serverInfo(), { version: "x/1.40.0/Clean/RELEASE/BoringSSL", state: "LIVE", concurrency: 4 });
    assert.equal(await admin.workers(), 4);
  });

  it("reads the lb policy: the omitted default, the enum, and a typed extension", async () => {
    const admin = new EnvoyAdmin(base);
    assert.deepEqual(await admin.lbPolicy("service1"), {
      policy: "ROUND_ROBIN",
      source: "lb_policy",
      config: {},
      discoveryType: "STRICT_DNS",
    });
    const lr = await admin.lbPolicy("service2");
    assert.equal(lr.policy, "LEAST_REQUEST");
    assert.deepEqual(lr.config, { choice_count: 3 });
    const typed = await admin.lbPolicy("service3");
    assert.equal(typed.policy, "RANDOM");
    assert.equal(typed.source, "load_balancing_policy");
    await assert.rejects(admin.lbPolicy("nope"), /no cluster named 'nope'/);
  });

  it("reads stats with a filter, skipping histograms", async () => {
    const admin = new EnvoyAdmin(base);
    const stats = await admin.stats("^cluster\\.service1\\.");
    assert.equal(stats["cluster.service1.upstream_rq_retry"], 2);
    assert.equal(Object.keys(stats).length, 4);
    assert.match(lastStatsQuery, /format=json&filter=\^cluster\\\.service1\\\./);
  });

  it("keeps clusters() working and snapshots a cluster for the checks", async () => {
    const admin = new EnvoyAdmin(base);
    const c = await admin.cluster("service1");
    assert.equal(c.hosts[0]!.stats.rq_total, 42);
    assert.equal(c.hosts[0]!.stats.cx_connect_fail, 0);
    assert.equal(c.hosts[0]!.healthy, true);
    const snap = await snapshotCluster(admin, "service1");
    assert.equal(snap.upstreamRqRetry, 2);
    assert.deepEqual(
      [...snap.workerConnections.entries()],
      [
        [0, 3],
        [1, 5],
      ],
    );
    assert.equal(snap.hosts.get("172.20.0.5:8080")?.stats.rq_total, 42);
  });

  it("lists listeners", async () => {
    assert.deepEqual(await new EnvoyAdmin(base).listeners(), [{ name: "front", address: "0.0.0.0", port: 8080 }]);
  });

  it("reports what was wrong, where, when Envoy's answer has an unexpected shape", async () => {
    const admin = new EnvoyAdmin(base);
    brokenClusters = true;
    try {
      await assert.rejects(admin.clusters(), (err: unknown) => {
        assert.ok(err instanceof EnvoyAdminError);
        assert.match(err.message, /cluster_statuses\.0\.name: /);
        return true;
      });
    } finally {
      brokenClusters = false;
    }
  });
});
