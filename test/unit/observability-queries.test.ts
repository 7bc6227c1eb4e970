// The PromQL module: selectors, escaping, windows and the catalogue's coverage of the questions
// the issue asks Prometheus to answer.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import {
  alternation,
  envoyClusterLatencyQuantileMs,
  errorRatio,
  latencyQuantile,
  queryCatalogue,
  quote,
  requestsTotal,
  serviceSelector,
  snapshotReplicaRequests,
} from "../../harness/observability/queries.ts";

describe("observability PromQL", () => {
  it("counts only the service route of the services job by default, or every route when asked", () => {
    assert.equal(serviceSelector(), '{job="services",route="/service/:id"}');
    assert.equal(serviceSelector({ route: null }), '{job="services"}');
    assert.equal(
      serviceSelector({ services: ["service1", "service2"] }),
      '{job="services",route="/service/:id",service=~"service1|service2"}',
    );
    assert.equal(requestsTotal({}, "service"), 'sum by (service) (http_requests_total{job="services",route="/service/:id"})');
    assert.equal(requestsTotal(), 'sum by (service, replica) (http_requests_total{job="services",route="/service/:id"})');
  });

  it("escapes label values and regex metacharacters", () => {
    assert.equal(quote('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(alternation(["svc.1", "a|b"]), '"svc\\\\.1|a\\\\|b"');
  });

  it("rejects windows that are not PromQL durations and quantiles outside [0, 1]", () => {
    assert.throws(() => latencyQuantile(0.5, { window: "5 minutes" }), /not a PromQL duration/);
    assert.throws(() => latencyQuantile(1.5), /not in \[0, 1\]/);
    assert.throws(() => envoyClusterLatencyQuantileMs(-0.1), /not in \[0, 1\]/);
    assert.match(latencyQuantile(0.99, { window: "1m30s" }), /\[1m30s\]/);
  });

  it("keeps groups without errors in the error ratio (0, not missing)", () => {
    const q = errorRatio({ window: "30s" }, "service");
    assert.match(q, /status_class="5xx"/);
    assert.match(q, / or sum by \(service\) \(rate\(http_requests_total\{job="services",route="\/service\/:id"\}\[30s\]\)\) \* 0\) \//);
  });

  it("groups the check's snapshot by the DNS name Prometheus found the replica under", () => {
    assert.equal(
      snapshotReplicaRequests({ services: ["service2"] }),
      'sum by (compose_service, replica, instance) (http_requests_total{job="services",route="/service/:id",compose_service=~"service2"})',
    );
  });

  it("the catalogue answers every question of the issue, each id once", () => {
    const entries = queryCatalogue();
    const ids = entries.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const g of ["service", "replica"]) {
      for (const q of ["requests", "latency_p99", "error_ratio", "status_classes", "bytes_received", "bytes_sent"]) {
        assert.ok(ids.includes(`${q}_per_${g}`), `${q}_per_${g}`);
      }
    }
    for (const id of [
      "envoy_cpu_percent",
      "envoy_memory_allocated",
      "envoy_downstream_connections",
      "envoy_upstream_connections",
      "envoy_downstream_rx_bytes_rate",
      "envoy_downstream_tx_bytes_rate",
      "envoy_request_rate",
    ]) {
      assert.ok(ids.includes(id), id);
    }
    // Histogram quantiles aggregate by le, and every query reads one of the two scrape jobs.
    for (const e of entries) {
      assert.match(e.promql, /job="(services|envoy)"/, e.id);
      if (e.promql.includes("histogram_quantile")) assert.match(e.promql, /sum by \([^)]*\ble\b[^)]*\)/, e.id);
    }
  });
});
