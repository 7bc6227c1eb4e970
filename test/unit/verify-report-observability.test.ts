// The verify report's "From Prometheus" section: report.observability (the panel of
// harness/observability/report.ts) in verify.json, and rendered in verify.html as latency and
// error-rate panels per service plus Envoy's numbers; "–" where Prometheus had no data.
import { strict as assert } from "node:assert";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import type { ObservabilityPanel } from "../../harness/observability/report.ts";
import { toHtml, writeReports } from "../../harness/verify/report.ts";
import { verifyReportSchema, type VerifyReport } from "../../harness/verify/schema.ts";
import { sampleReport, sampleService } from "../support/verify-report-fixtures.ts";

/** service1: three replicas, the third without traffic in the window; service2: 5 % 5xx. */
function panel(): ObservabilityPanel {
  return {
    window: "42s",
    generatedAt: "2026-01-01T00:00:02.000Z",
    services: [
      {
        service: "service1",
        requests: 120,
        requestsPerSecond: 2.857,
        errorRatio: 0,
        latency: { p50: 0.000302, p90: 0.00211, p99: 0.0238 },
        statusClasses: { "2xx": 120 },
        replicas: [
          {
            replica: "aaa111",
            requests: 61,
            requestsPerSecond: 1.452,
            errorRatio: 0,
            latency: { p50: 0.000306, p90: 0.00337, p99: 0.02 },
            statusClasses: { "2xx": 61 },
            bytes: { in: 0, out: 6100, inPerSecond: 0, outPerSecond: 145.2 },
          },
          {
            replica: "bbb222",
            requests: 59,
            requestsPerSecond: 1.405,
            errorRatio: 0,
            latency: { p50: 0.000298, p90: 0.0019, p99: 0.0251 },
            statusClasses: { "2xx": 59 },
          },
          {
            replica: "ccc333",
            requests: 0,
            requestsPerSecond: 0,
            errorRatio: null,
            latency: { p50: null, p90: null, p99: null },
            statusClasses: {},
          },
        ],
      },
      {
        service: "service2",
        requests: 40,
        requestsPerSecond: 0.952,
        errorRatio: 0.05,
        latency: { p50: 0.0004, p90: 0.0031, p99: 0.0412 },
        statusClasses: { "5xx": 2, "2xx": 38 },
        replicas: [
          {
            replica: "bad<host>",
            requests: 40,
            requestsPerSecond: 0.952,
            errorRatio: 0.05,
            latency: { p50: 0.0004, p90: 0.0031, p99: 0.0412 },
            statusClasses: { "5xx": 2, "2xx": 38 },
          },
        ],
      },
    ],
    envoy: {
      cpuPercent: 3.25,
      memoryAllocatedBytes: 7933496,
      downstreamConnections: 14,
      requestsPerSecond: 3.81,
      bytes: {
        listener: { in: 1_572_864, out: 3_145_728, inPerSecond: 37_449, outPerSecond: 74_898 },
        clusters: [{ cluster: "service1", in: 2048, out: 512, inPerSecond: 48.8, outPerSecond: 12.2 }],
      },
    },
  };
}

function report(observability?: ObservabilityPanel | null): VerifyReport {
  const services = [sampleService("service1", true), sampleService("service2", true)];
  return sampleReport(services, observability === undefined ? {} : { observability });
}

/** The table row whose first cell is `first` (cells joined by "|", tags stripped). */
function row(html: string, first: string): string {
  const tr = html.match(new RegExp(`<tr[^>]*><td>${first}</td>.*?</tr>`))?.[0];
  assert.ok(tr, `no table row starting with ${first}`);
  return tr
    .replace(/<\/td><td[^>]*>/g, "|")
    .replace(/<[^>]+>/g, "")
    .trim();
}

/** The part of the page from the "From Prometheus" heading on. */
function section(html: string): string {
  const at = html.indexOf("<h2>From Prometheus</h2>");
  assert.ok(at >= 0, "no From Prometheus section");
  return html.slice(at);
}

describe("report: observability panel from Prometheus", () => {
  it("the schema round-trips a report with the panel, and accepts one without it or with null", () => {
    const r = report(panel());
    const parsed = verifyReportSchema.parse(JSON.parse(JSON.stringify(r)));
    assert.deepEqual(parsed.observability, panel());
    assert.deepEqual(parsed, r);
    assert.equal(verifyReportSchema.parse(report()).observability, undefined, "schemaVersion 1 reports without the field stay valid");
    assert.equal(verifyReportSchema.parse(report(null)).observability, null);
  });

  it("the schema rejects a broken panel with the field's path", () => {
    const broken = JSON.parse(JSON.stringify(report(panel()))) as {
      observability: { services: { replicas: { latency: { p99: unknown } }[] }[] };
    };
    broken.observability.services[0]!.replicas[1]!.latency.p99 = "slow";
    const r = verifyReportSchema.safeParse(broken);
    assert.equal(r.success, false);
    assert.deepEqual(r.error!.issues[0]!.path, ["observability", "services", 0, "replicas", 1, "latency", "p99"]);
  });

  it("writes the panel into verify.json and verify.html", async () => {
    const dir = await mkdtemp(join(tmpdir(), "verify-report-obs-"));
    try {
      const paths = await writeReports(report(panel()), dir);
      const json = verifyReportSchema.parse(JSON.parse(await readFile(paths.json, "utf8")));
      assert.deepEqual(json.observability, panel());
      assert.match(await readFile(paths.html, "utf8"), /<h2>From Prometheus<\/h2>/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("renders per service a latency chart, an error-rate chart and a table, and Envoy's numbers", () => {
    const html = toHtml(report(panel()));
    const prom = section(html);
    assert.match(prom, /Window 42s ending 2026-01-01T00:00:02\.000Z: /);
    assert.match(
      section(toHtml(report({ ...panel(), window: "6123ms" }))),
      /Window 6\.1 s ending /,
      "a verify run's millisecond window, in seconds",
    );
    assert.deepEqual(prom.match(/<h3>[^<]*<\/h3>/g), ["<h3>Envoy</h3>", "<h3>service1</h3>", "<h3>service2</h3>"]);
    assert.equal((prom.match(/<svg /g) ?? []).length, 4, "a latency chart and an error-rate chart per service");
    assert.equal((prom.match(/aria-label="latency quantiles per replica for service\d"/g) ?? []).length, 2);
    assert.equal((prom.match(/aria-label="error rate per replica for service\d"/g) ?? []).length, 2);
    // Envoy: CPU, memory (MiB), connections, requests/s.
    assert.match(
      prom,
      /<th>CPU<\/th><th>memory allocated<\/th><th>downstream connections<\/th><th>requests\/s<\/th><\/tr>\n<tr><td class="n">3\.3 %<\/td><td class="n">7\.6 MiB<\/td><td class="n">14<\/td><td class="n">3\.81<\/td><\/tr>/,
    );
    // Table rows: replica | requests | requests/s | error ratio | p50 | p90 | p99 ms | status classes
    // | bytes in | bytes out | out/s; "–" for a replica the panel has no bytes of.
    assert.equal(row(prom, "aaa111"), "aaa111|61|1.45|0.00 %|0.31|3.37|20.0|2xx 61|0 B|6.0 KiB|145 B/s");
    assert.equal(row(prom, "bbb222"), "bbb222|59|1.41|0.00 %|0.30|1.90|25.1|2xx 59|–|–|–");
    assert.equal(row(prom, "bad&lt;host&gt;"), "bad&lt;host&gt;|40|0.95|5.00 %|0.40|3.10|41.2|2xx 38 · 5xx 2|–|–|–");
    // Envoy's bytes and bandwidth: the listener and each cluster, as plain rows (no style attribute).
    assert.equal(
      row(prom, "Envoy listener \\(from/to clients\\)"),
      "Envoy listener (from/to clients)|1.5 MiB|36.6 KiB/s|3.0 MiB|73.1 KiB/s",
    );
    assert.equal(
      row(prom, "Envoy cluster service1 \\(from/to replicas\\)"),
      "Envoy cluster service1 (from/to replicas)|2.0 KiB|49 B/s|512 B|12 B/s",
    );
    assert.match(prom, /<table class="bytes">/);
    assert.doesNotMatch(html, /style=/);
    assert.match(prom, /<tr class="total"><td>all replicas<\/td><td class="n">120<\/td>/);
    // The chart bars carry the same numbers: p99 of aaa111 in ms, and service2's error ratio in red.
    assert.match(prom, /<title>service1 replica aaa111: p99 20\.0 ms<\/title><\/rect><text [^>]*>20\.0<\/text>/);
    assert.match(prom, /<text [^>]*class="val bad">errors 5\.00 %<tspan dx="10"[^>]*class="axis">2xx 38 · 5xx 2<\/tspan><\/text>/);
    assert.match(prom, /<rect [^>]*class="sc5"><title>service2 replica bad&lt;host&gt;: 5xx 2<\/title><\/rect>/);
    // Escaped; nothing loaded but the stylesheet beside the page.
    assert.doesNotMatch(html, /bad<host>/);
    assert.doesNotMatch(html, /<script|<style|style=|@import|url\(/);
    assert.deepEqual(
      (html.match(/(?:src|href)=["'][^"']*["']/g) ?? []).filter((u) => !u.includes("#")),
      ['href="verify.css"'],
    );
  });

  it("shows – for values Prometheus had no data for (null) and for NaN", () => {
    const p = panel();
    p.envoy.cpuPercent = Number.NaN;
    p.envoy.downstreamConnections = null;
    p.services[1]!.replicas[0]!.latency.p90 = Number.NaN;
    p.services[1]!.replicas[0]!.requestsPerSecond = Number.NaN;
    const prom = section(toHtml(report(p)));
    // A replica without traffic: no error ratio, no latencies, no status classes.
    assert.equal(row(prom, "ccc333"), "ccc333|0|0.00|–|–|–|–|–|–|–|–");
    assert.equal(row(prom, "bad&lt;host&gt;"), "bad&lt;host&gt;|40|–|5.00 %|0.40|–|41.2|2xx 38 · 5xx 2|–|–|–");
    assert.match(prom, /<tr><td class="n">–<\/td><td class="n">7\.6 MiB<\/td><td class="n">–<\/td><td class="n">3\.81<\/td><\/tr>/);
    // In the charts: a "–" mark instead of each missing bar, and "errors –".
    assert.equal((prom.match(/<title>service1 replica ccc333: p\d\d no data<\/title>–<\/text>/g) ?? []).length, 3);
    assert.match(prom, /<title>service2 replica bad&lt;host&gt;: p90 no data<\/title>–<\/text>/);
    assert.match(prom, />errors –<tspan dx="10"[^>]*class="axis">no answers in the window<\/tspan>/);
    assert.doesNotMatch(prom, /NaN|null|undefined|Infinity/);
  });

  it("a service without any latency data gets a chart that says so", () => {
    const p = panel();
    p.services = [{ ...p.services[0]!, latency: { p50: null, p90: null, p99: null }, replicas: [] }];
    const prom = section(toHtml(report(p)));
    assert.match(prom, /– no latency data in the window/);
    assert.doesNotMatch(prom, /NaN|Infinity/);
  });

  it("has no section without a panel, or when building it failed (null)", () => {
    for (const r of [report(), report(null)]) {
      const html = toHtml(r);
      assert.doesNotMatch(html, /From Prometheus/);
      assert.doesNotMatch(html, /latency quantiles per replica/);
      assert.equal((html.match(/<svg /g) ?? []).length, 4, "only the load's own charts");
    }
    assert.equal((toHtml(report(panel())).match(/<svg /g) ?? []).length, 8);
  });
});
