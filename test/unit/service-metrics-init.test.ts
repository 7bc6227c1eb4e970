// A replica's request series exist at zero before its first request, so Prometheus' rate() and
// increase() count a replica's very first requests too (a series born at its final value would not).
import assert from "node:assert/strict";
import { it } from "vitest";
import { ServiceMetrics } from "../../services/src/metrics.ts";

it("publishes the /service/:id series at zero before any request", async () => {
  const metrics = new ServiceMetrics({ serviceName: "service1", replica: "abc123", defaultMetrics: false });
  const text = await metrics.registry.metrics();
  for (const series of [
    "http_requests_total",
    "http_request_duration_seconds_count",
    "http_request_size_bytes_total",
    "http_response_size_bytes_total",
  ]) {
    const line = text
      .split("\n")
      .find((l) => l.startsWith(`${series}{`) && l.includes('route="/service/:id"') && l.includes('replica="abc123"'));
    assert.ok(line, `${series} for /service/:id is published before any request`);
    assert.match(line, / 0$/, `${series} starts at zero`);
  }
});
