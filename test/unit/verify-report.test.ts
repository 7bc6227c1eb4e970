// The report's outward forms: schema, terminal table, JUnit XML, self-contained HTML, files.
import { strict as assert } from "node:assert";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { withConvergence, type ConvergenceResult } from "../../harness/verify/convergence.ts";
import { escapeXml, formatReport, toHtml, toJUnit, writeReports } from "../../harness/verify/report.ts";
import { verifyReportSchema } from "../../harness/verify/schema.ts";
import { sampleReport, sampleService, withLayers } from "../support/verify-report-fixtures.ts";

describe("report", () => {
  it("the schema accepts a report and rejects a broken one with the field's path", () => {
    assert.equal(verifyReportSchema.safeParse(sampleReport([sampleService("service1", true)])).success, true);
    const broken = sampleReport([sampleService("service1", true)]) as unknown as { services: { checks: { name: string }[] }[] };
    broken.services[0]!.checks[0]!.name = "vibes";
    const r = verifyReportSchema.safeParse(broken);
    assert.equal(r.success, false);
    assert.deepEqual(r.error!.issues[0]!.path, ["services", 0, "checks", 0, "name"]);
  });

  it("formats a table per service and a verdict line per check", () => {
    const text = formatReport(sampleReport([sampleService("service1", true), sampleService("service2", false)]));
    assert.match(text, /replica\s+hostname\s+ip\s+count\s+share/);
    assert.match(text, /s-1\s+aaa111\s+172\.20\.0\.5\s+3\s+50\.0 %/);
    assert.match(text, /PASS service1 reachability: 6\/6 answered/);
    assert.match(text, /FAIL service2 reachability: 1\/6 requests failed/);
    assert.match(text, /verify FAILED: 3\/4 checks passed over 2 services \(Envoy 1\.40\.0, 2 workers\)/);
  });

  it("shows Envoy's two layers side by side: terminal, JUnit properties, HTML table; none without the measurement", () => {
    const report = sampleReport([withLayers(sampleService("service1", true)), sampleService("service2", true)]);
    const text = formatReport(report);
    assert.match(
      text,
      /layers: replica\s+L4 tcp_proxy: connections \(of 6, 0 on >1 replica\)\s+L7 HTTP: requests of one connection \(of 4\)/,
    );
    assert.match(text, /\n {2}s-1\s+4\s+2\n {2}s-2\s+2\s+2\n/);
    assert.equal((text.match(/layers: replica/g) ?? []).length, 1, "service2 has no layers table");
    const xml = toJUnit(report);
    assert.match(xml, /<property name="layers.l4.connectionsPerReplica" value="aaa111=4,bbb&lt;222&gt;=2"\/>/);
    assert.match(xml, /<property name="layers.l7.requestsPerReplica" value="aaa111=2,bbb&lt;222&gt;=2"\/>/);
    const html = toHtml(report);
    assert.match(html, /<table class="layers"><caption>Envoy's two layers: L4 balances per connection, L7 per request/);
    assert.match(html, /<tr><td>s-1<\/td><td class="n">4<\/td><td class="n">2<\/td><\/tr>/);
    assert.equal((html.match(/<table class="layers">/g) ?? []).length, 1);
    assert.equal(verifyReportSchema.safeParse(report).success, true);
  });

  it("writes JUnit XML with one testcase per check and escaped failure messages", () => {
    const xml = toJUnit(sampleReport([sampleService("service1", true), sampleService("service2", false)]));
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>/);
    assert.match(xml, /<testsuites name="envoy-pipeline verify" tests="4" failures="1"/);
    assert.equal((xml.match(/<testcase /g) ?? []).length, 4);
    assert.match(
      xml,
      /<testcase classname="verify\.service2" name="reachability" time="0">\n\s+<failure message="1\/6 requests failed: replica &quot;bbb&lt;222&gt;&quot; answered 1 × success=false &amp; more"/,
    );
    assert.doesNotMatch(xml.replace(/<\/?[a-z?][^>]*>/g, ""), /[<>]/);
    assert.equal(escapeXml("a\u0001b<"), "ab&lt;");
  });

  it("renders one HTML page whose only asset is verify.css beside it", () => {
    const html = toHtml(sampleReport([sampleService("service1", true), sampleService("service2", false)]));
    assert.match(html, /^<!DOCTYPE html>/);
    assert.equal((html.match(/<svg /g) ?? []).length, 4, "a distribution chart and a latency histogram per service");
    assert.match(html, /class="fair"/);
    // Nothing Jenkins' CSP blocks (no script, no inline style) and no other asset: the only URLs are
    // the stylesheet beside it, the SVG namespace and the report's own listener URL.
    const urls = (html.match(/(?:src|href)=["'][^"']*["']/g) ?? []).filter((u) => !u.includes("#"));
    assert.deepEqual(urls, ['href="verify.css"']);
    assert.doesNotMatch(html, /<script|<style|style=|@import|url\(/);
    assert.match(html, /bbb&lt;222&gt;/);
    assert.doesNotMatch(html, /bbb<222>/);
  });

  it("adds a convergence check", () => {
    const result: ConvergenceResult = {
      converged: false,
      seconds: null,
      afterScaleSeconds: null,
      scaleSeconds: 1,
      resolutionSeconds: 0.2,
      expected: ["aaa111"],
      rounds: [],
      check: {
        name: "convergence",
        passed: false,
        reason: "after 2.0 s traffic still reached bbb<222>",
        culprits: ["bbb<222>"],
        details: [],
      },
    };
    const r = withConvergence(sampleReport([sampleService("service1", true)]), "service1", result);
    assert.equal(r.passed, false);
    assert.equal(r.services[0]!.checks.at(-1)!.name, "convergence");
    assert.equal(r.services[0]!.convergence!.converged, false);
    assert.equal(verifyReportSchema.safeParse(r).success, true);
    assert.throws(() => withConvergence(r, "nope", result), /no service 'nope'/);
  });

  it("writes verify.json, junit.xml and verify.html", async () => {
    const dir = await mkdtemp(join(tmpdir(), "verify-report-"));
    try {
      const paths = await writeReports(sampleReport([sampleService("service1", true)]), join(dir, "nested"));
      const json: unknown = JSON.parse(await readFile(paths.json, "utf8"));
      assert.equal(verifyReportSchema.safeParse(json).success, true);
      assert.match(await readFile(paths.junit, "utf8"), /<testsuites/);
      assert.match(await readFile(paths.html, "utf8"), /<svg /);
      assert.equal(paths.css, join(dir, "nested", "verify.css"));
      assert.match(await readFile(paths.css, "utf8"), /svg \.bar\{fill:#4a7fc1\}/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
