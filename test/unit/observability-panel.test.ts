// The report panel's data without a Prometheus: the PromQL it asks (counter growth, no
// extrapolation), what it makes of the answers (NaN → null, per replica under its service), the
// window verify asks for, and the fallback that keeps verify going when the panel cannot be built.
import { strict as assert } from "node:assert";
import { describe, it } from "vitest";
import type { PrometheusClient, Sample } from "../../harness/observability/prometheus.ts";
import {
  growth,
  observabilityPanel,
  observabilityPanelOrNull,
  observabilityPanelSchema,
  panelQueries,
  panelScopeSince,
  windowSeconds,
} from "../../harness/observability/report.ts";

const sample = (labels: Record<string, string>, value: number): Sample => ({ labels, value, timestamp: 0 });

/** A PrometheusClient whose `query` answers from `answer` and records every PromQL it was asked. */
function fakeProm(answer: (promql: string) => Sample[] | Error): { prom: PrometheusClient; asked: string[] } {
  const asked: string[] = [];
  const prom = {
    query: async (promql: string): Promise<Sample[]> => {
      asked.push(promql);
      const a = answer(promql);
      if (a instanceof Error) throw a;
      return a;
    },
  } as unknown as PrometheusClient;
  return { prom, asked };
}

/** service1 with replicas r1 (traffic, one 5xx) and r2 (series at zero: no traffic in the window). */
function answers(promql: string): Sample[] {
  const perReplica = promql.includes("by (service, replica");
  const rows = (v1: number, v2: number): Sample[] =>
    perReplica
      ? [sample({ service: "service1", replica: "r1" }, v1), sample({ service: "service1", replica: "r2" }, v2)]
      : [sample({ service: "service1" }, v1)];
  if (promql.startsWith("histogram_quantile(0.5,")) return rows(0.0003, Number.NaN);
  if (promql.startsWith("histogram_quantile(0.9,")) return rows(0.002, Number.NaN);
  if (promql.startsWith("histogram_quantile(0.99,")) return rows(0.02, Number.NaN);
  if (promql.includes("status_class) (")) {
    return perReplica
      ? [
          sample({ service: "service1", replica: "r1", status_class: "2xx" }, 39.2),
          sample({ service: "service1", replica: "r1", status_class: "5xx" }, 1),
          sample({ service: "service1", replica: "r2", status_class: "2xx" }, 0),
        ]
      : [sample({ service: "service1", status_class: "2xx" }, 39.2), sample({ service: "service1", status_class: "5xx" }, 1)];
  }
  if (promql.includes("http_request_size_bytes_total")) return rows(0, 0);
  if (promql.includes("http_response_size_bytes_total")) return rows(3700, 0);
  if (promql.includes("downstream_cx_rx_bytes_total")) return [sample({}, 7400)];
  if (promql.includes("downstream_cx_tx_bytes_total")) return [sample({}, 14_800)];
  if (promql.includes("upstream_cx_rx_bytes_total"))
    return [sample({ envoy_cluster_name: "service1" }, 11_100), sample({ envoy_cluster_name: "service2" }, Number.NaN)];
  if (promql.includes("upstream_cx_tx_bytes_total")) return [sample({ envoy_cluster_name: "service1" }, 9250)];
  if (promql.includes("cpu_utilization")) return [sample({}, Number.NaN)];
  if (promql.includes("memory_allocated")) return [sample({}, 8_000_000)];
  if (promql.includes("downstream_cx_active")) return [sample({}, 3)];
  if (promql.includes("downstream_rq_total")) return [sample({}, 74)];
  return [];
}

describe("observability panel data", () => {
  it("builds the panel per service and replica from counter growth; NaN from Prometheus becomes null", async () => {
    const { prom, asked } = fakeProm(answers);
    const panel = await observabilityPanel(prom, { window: "37s", services: ["service1", "service2"] });
    assert.equal(observabilityPanelSchema.safeParse(panel).success, true);
    assert.equal(panel.window, "37s");
    assert.equal(panel.services.length, 1);
    const [s] = panel.services;
    const r1 = {
      requests: 40,
      requestsPerSecond: 40 / 37,
      errorRatio: 1 / 40,
      latency: { p50: 0.0003, p90: 0.002, p99: 0.02 },
      statusClasses: { "2xx": 39, "5xx": 1 },
      bytes: { in: 0, out: 3700, inPerSecond: 0, outPerSecond: 100 },
    };
    assert.deepEqual({ ...s, replicas: undefined }, { service: "service1", ...r1, replicas: undefined });
    assert.deepEqual(s?.replicas, [
      { replica: "r1", ...r1 },
      // Series at zero: 0 requests, no error ratio (0 of 0), no latency, no status class.
      {
        replica: "r2",
        requests: 0,
        requestsPerSecond: 0,
        errorRatio: null,
        latency: { p50: null, p90: null, p99: null },
        statusClasses: {},
        bytes: { in: 0, out: 0, inPerSecond: 0, outPerSecond: 0 },
      },
    ]);
    // Envoy's bytes, seen from Envoy: from clients (in) and to them (out); per cluster, from its
    // replicas (in) and to them (out). NaN is no data.
    assert.deepEqual(panel.envoy, {
      cpuPercent: null,
      memoryAllocatedBytes: 8_000_000,
      downstreamConnections: 3,
      requestsPerSecond: 2,
      bytes: {
        listener: { in: 7400, out: 14_800, inPerSecond: 200, outPerSecond: 400 },
        clusters: [
          { cluster: "service1", in: 11_100, out: 9250, inPerSecond: 300, outPerSecond: 250 },
          { cluster: "service2", in: null, out: null, inPerSecond: null, outPerSecond: null },
        ],
      },
    });
    // verify's scope reaches every service query: only its services, over its window, and no
    // query extrapolates (rate/increase would count 2-3x the load over a window of a few scrapes).
    const serviceQueries = asked.filter((q) => q.includes('job="services"'));
    assert.equal(serviceQueries.length, 12, "6 queries per service and per replica");
    for (const q of serviceQueries) {
      assert.match(q, /service=~"service1\|service2"/);
      assert.match(q, /offset 37s or /);
    }
    assert.deepEqual(
      asked.filter((q) => /\b(rate|increase|irate)\(/.test(q)),
      [],
    );
  });

  it("counts growth between the window's first and newest samples: a new series from 0, a reset as 0", () => {
    assert.equal(growth('m{a="b"}', "20s"), 'clamp_min(m{a="b"} - (m{a="b"} offset 20s or m{a="b"} * 0), 0)');
    assert.match(
      panelQueries({ window: "20s" }, "replica").classes,
      /^sum by \(service, replica, status_class\) \(clamp_min\(http_requests_total\{job="services",route="\/service\/:id"\} - /,
    );
    assert.match(
      panelQueries({ window: "20s" }, "service").quantile(0.9),
      /^histogram_quantile\(0\.9, sum by \(service, le\) \(clamp_min\(http_request_duration_seconds_bucket\{/,
    );
  });

  it("reads a window's seconds from its PromQL duration", () => {
    assert.equal(windowSeconds("37s"), 37);
    assert.equal(windowSeconds("2m"), 120);
    assert.equal(windowSeconds("1m30s"), 90);
    assert.equal(windowSeconds("1500ms"), 1.5);
    assert.throws(() => windowSeconds("5 min"), /query window '5 min' is not a PromQL duration/);
    assert.throws(() => windowSeconds("0s"), /query window '0s' is empty/);
  });

  it("the window of a verify run starts right after the snapshot's samples and ends at a pinned now", () => {
    const t0 = Date.parse("2026-01-01T00:00:00.000Z");
    assert.deepEqual(panelScopeSince(t0, t0 + 6_123), { window: "6122ms", at: new Date(t0 + 6_123) });
    assert.deepEqual(panelScopeSince(new Date(t0), t0 + 120_000), { window: "119999ms", at: new Date(t0 + 120_000) });
    assert.equal(windowSeconds(panelScopeSince(t0, t0 + 6_123).window), 6.122);
    assert.equal(panelScopeSince(t0, t0).window, "1ms", "never an empty window");
    assert.equal(panelScopeSince(Number.NaN, t0).window, "60000ms");
  });

  it("evaluates every query at the scope's time", async () => {
    const times: (Date | undefined)[] = [];
    const prom = {
      query: async (q: string, at?: Date) => {
        times.push(at);
        return answers(q);
      },
    } as unknown as PrometheusClient;
    const at = new Date("2026-01-01T00:00:06.123Z");
    const panel = await observabilityPanel(prom, { window: "6122ms", at });
    assert.equal(times.length, 20);
    assert.deepEqual(new Set(times.map((t) => t?.toISOString())), new Set([at.toISOString()]));
    assert.equal(panel.generatedAt, at.toISOString());
    assert.equal(panel.services[0]?.requestsPerSecond, 40 / 6.122);
  });

  it("gives null and the reason, instead of failing, when Prometheus cannot answer", async () => {
    const warnings: string[] = [];
    const { prom } = fakeProm(() => new Error("query sum by (service) (...): connect ECONNREFUSED 127.0.0.1:9090"));
    const panel = await observabilityPanelOrNull(prom, { window: "20s" }, (reason) => warnings.push(reason));
    assert.equal(panel, null);
    assert.deepEqual(warnings, ["query sum by (service) (...): connect ECONNREFUSED 127.0.0.1:9090"]);
  });

  it("gives null for a window Prometheus would reject, and the panel when all is well", async () => {
    const warnings: string[] = [];
    const { prom } = fakeProm(answers);
    assert.equal(await observabilityPanelOrNull(prom, { window: "a while" }, (r) => warnings.push(r)), null);
    assert.match(warnings[0] ?? "", /query window 'a while' is not a PromQL duration/);
    const ok = await observabilityPanelOrNull(prom, { window: "15s" }, (r) => warnings.push(r));
    assert.equal(ok?.services[0]?.replicas.length, 2);
    assert.equal(warnings.length, 1);
  });
});
