// The report's outward forms: schema, terminal table, JUnit XML, self-contained HTML, files.
import { strict as assert } from "node:assert";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { withConvergence, type ConvergenceResult } from "../../harness/verify/convergence.ts";
import { escapeXml, formatReport, toHtml, toJUnit, writeReports } from "../../harness/verify/report.ts";
import { verifyReportSchema, type ServiceReport, type VerifyReport } from "../../harness/verify/schema.ts";

function service(name: string, passed: boolean): ServiceReport {
  const lat = { p50: 1.2, p90: 2.5, p99: 7.5, max: 12, mean: 1.6 };
  return {
    service: name,
    path: "/service/1",
    cluster: name,
    serviceId: "1",
    lbPolicy: "ROUND_ROBIN",
    lbPolicySource: "lb_policy",
    requests: { planned: 6, plannedBy: "given", sent: 6, ok: passed ? 6 : 5, concurrency: 2, connections: 2, connectionsOpened: 2, durationSeconds: 0.1, requestsPerSecond: 60 },
    latencyMs: lat,
    histogram: { edgesMs: [0.5, 1, 2], counts: [1, 3, 2] },
    replicas: [
      { hostname: "aaa111", container: "s-1", dockerIp: "172.20.0.5", reportedIps: ["172.20.0.5"], expected: true, count: 3, share: 0.5, expectedShare: 0.5, errors: 0, latencyMs: lat, envoyRqTotal: 3 },
      { hostname: "bbb<222>", container: "s-2", dockerIp: "172.20.0.6", reportedIps: ["172.20.0.6"], expected: true, count: 3, share: 0.5, expectedShare: 0.5, errors: passed ? 0 : 1, latencyMs: lat, envoyRqTotal: 3 },
    ],
    failures: [],
    balance: {
      method: "round-robin-bound",
      hostnames: ["aaa111", "bbb<222>"],
      counts: [3, 3],
      expectedShares: [0.5, 0.5],
      weighted: false,
      maxMinRatio: 1,
      statistic: null,
      df: null,
      pValue: null,
      alpha: null,
      bounds: [2, 2],
      deviations: [0, 0],
      power: 0,
      powerNote: "n too small",
      workers: 2,
      retries: 0,
      unattributed: 0,
      foreign: 0,
      hostSetChanges: 0,
      notes: [],
    },
    perRequest: { requests: 4, connectionsOpened: 1, seen: { aaa111: 2, "bbb<222>": 2 } },
    convergence: null,
    checks: [
      { name: "reachability", passed, reason: passed ? "6/6 answered" : `1/6 requests failed: replica "bbb<222>" answered 1 × success=false & more`, culprits: passed ? [] : ["bbb<222>"], details: [] },
      { name: "membership", passed: true, reason: "all 2 running replicas answered", culprits: [], details: [] },
    ],
    passed,
  };
}

function report(...services: ServiceReport[]): VerifyReport {
  return {
    schemaVersion: 1,
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:00:01.000Z",
    durationSeconds: 1,
    listenerUrl: "http://127.0.0.1:8080",
    adminUrl: "http://127.0.0.1:9901",
    envoy: { version: "abc/1.40.0/Clean/RELEASE/BoringSSL", state: "LIVE", concurrency: 2 },
    settings: { alpha: 1e-6, power: 0.99, concurrency: 2, connections: 2, requests: 6 },
    services,
    passed: services.every((s) => s.passed),
  };
}

describe("report", () => {
  it("the schema accepts a report and rejects a broken one with the field's path", () => {
    assert.equal(verifyReportSchema.safeParse(report(service("service1", true))).success, true);
    const broken = report(service("service1", true)) as unknown as { services: { checks: { name: string }[] }[] };
    broken.services[0]!.checks[0]!.name = "vibes";
    const r = verifyReportSchema.safeParse(broken);
    assert.equal(r.success, false);
    assert.deepEqual(r.error!.issues[0]!.path, ["services", 0, "checks", 0, "name"]);
  });

  it("formats a table per service and a verdict line per check", () => {
    const text = formatReport(report(service("service1", true), service("service2", false)));
    assert.match(text, /replica\s+hostname\s+ip\s+count\s+share/);
    assert.match(text, /s-1\s+aaa111\s+172\.20\.0\.5\s+3\s+50\.0 %/);
    assert.match(text, /PASS service1 reachability: 6\/6 answered/);
    assert.match(text, /FAIL service2 reachability: 1\/6 requests failed/);
    assert.match(text, /verify FAILED: 3\/4 checks passed over 2 services \(Envoy 1\.40\.0, 2 workers\)/);
  });

  it("writes JUnit XML with one testcase per check and escaped failure messages", () => {
    const xml = toJUnit(report(service("service1", true), service("service2", false)));
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>/);
    assert.match(xml, /<testsuites name="envoy-pipeline verify" tests="4" failures="1"/);
    assert.equal((xml.match(/<testcase /g) ?? []).length, 4);
    assert.match(xml, /<testcase classname="verify\.service2" name="reachability" time="0">\n\s+<failure message="1\/6 requests failed: replica &quot;bbb&lt;222&gt;&quot; answered 1 × success=false &amp; more"/);
    assert.doesNotMatch(xml.replace(/<\/?[a-z?][^>]*>/g, ""), /[<>]/);
    assert.equal(escapeXml("a\u0001b<"), "ab&lt;");
  });

  it("renders one self-contained HTML page", () => {
    const html = toHtml(report(service("service1", true), service("service2", false)));
    assert.match(html, /^<!DOCTYPE html>/);
    assert.equal((html.match(/<svg /g) ?? []).length, 4, "a distribution chart and a latency histogram per service");
    assert.match(html, /class="fair"/);
    // No external assets: the only URLs are the SVG namespace and the report's own listener URL.
    const urls = (html.match(/(?:src|href)=["'][^"']*["']/g) ?? []).filter((u) => !u.includes("#"));
    assert.deepEqual(urls, []);
    assert.doesNotMatch(html, /<script|<link|@import|url\(/);
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
      check: { name: "convergence", passed: false, reason: "after 2.0 s traffic still reached bbb<222>", culprits: ["bbb<222>"], details: [] },
    };
    const r = withConvergence(report(service("service1", true)), "service1", result);
    assert.equal(r.passed, false);
    assert.equal(r.services[0]!.checks.at(-1)!.name, "convergence");
    assert.equal(r.services[0]!.convergence!.converged, false);
    assert.equal(verifyReportSchema.safeParse(r).success, true);
    assert.throws(() => withConvergence(r, "nope", result), /no service 'nope'/);
  });

  it("writes verify.json, junit.xml and verify.html", async () => {
    const dir = await mkdtemp(join(tmpdir(), "verify-report-"));
    try {
      const paths = await writeReports(report(service("service1", true)), join(dir, "nested"));
      const json: unknown = JSON.parse(await readFile(paths.json, "utf8"));
      assert.equal(verifyReportSchema.safeParse(json).success, true);
      assert.match(await readFile(paths.junit, "utf8"), /<testsuites/);
      assert.match(await readFile(paths.html, "utf8"), /<svg /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
