// The verify report in its three outward forms.
// Design notes: docs/verify.md ("verify/report.ts").
import { mkdir, writeFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { bytesLines, observabilityHtml } from "../observability/panel-view.ts";
import { escapeHtml, fmtMs, fmtPct, table } from "../lib/format.ts";
import { verifyReportSchema, type LayersReport, type ServiceReport, type VerifyReport } from "./schema.ts";
import { REPORT_CSS, REPORT_STYLESHEET, withPresentationAttributes } from "./report-style.ts";

function serviceHeader(s: ServiceReport): string {
  const r = s.requests;
  return `${s.service}  ${s.path} -> cluster ${s.cluster}  ${s.lbPolicy}  ${r.sent} requests (${r.concurrency} in flight, ${r.connectionsOpened} connections)  ${r.requestsPerSecond.toFixed(0)} req/s  p50 ${fmtMs(s.latencyMs.p50)} ms  p99 ${fmtMs(s.latencyMs.p99)} ms`;
}

/**
 * Envoy's two layers side by side, one row per replica: L4 connections it answered (each
 * connection stays on one replica) and the requests of one L7 keep-alive connection it answered.
 */
function layerRows(s: ServiceReport, l: LayersReport): string[][] {
  const hosts = [
    ...new Set([...s.replicas.map((r) => r.hostname), ...Object.keys(l.l4.connectionsPerReplica), ...Object.keys(l.l7.requestsPerReplica)]),
  ];
  const name = (h: string): string => s.replicas.find((r) => r.hostname === h)?.container ?? h;
  const rows = [
    [
      "layers: replica",
      `L4 tcp_proxy: connections (of ${l.l4.connections}, ${l.l4.mixedConnections} on >1 replica)`,
      `L7 HTTP: requests of ${l.l7.connections === 1 ? "one connection" : `${l.l7.connections} connections`} (of ${l.l7.requests})`,
    ],
    ...hosts.map((h) => [name(h), String(l.l4.connectionsPerReplica[h] ?? 0), String(l.l7.requestsPerReplica[h] ?? 0)]),
  ];
  const g = l.grpc;
  if (!g) return rows;
  // gRPC: the calls of one channel (one HTTP/2 connection) through each layer.
  rows[0]?.push(`gRPC L4: calls of one channel (of ${g.l4?.calls ?? 0})`, `gRPC L7: calls of one channel (of ${g.l7.calls})`);
  for (const [i, h] of hosts.entries()) rows[i + 1]?.push(String(g.l4?.callsPerReplica[h] ?? 0), String(g.l7.callsPerReplica[h] ?? 0));
  return rows;
}

/** The terminal rendering: a table per service and one PASS/FAIL line per check. */
export function formatReport(report: VerifyReport): string {
  const lines: string[] = [];
  for (const s of report.services) {
    lines.push(serviceHeader(s));
    const rows = [["replica", "hostname", "ip", "count", "share", "expected", "p50 ms", "p99 ms", "errors", "envoy rq"]];
    for (const r of s.replicas) {
      rows.push([
        r.container ?? "(not a replica)",
        r.hostname,
        r.reportedIps.join(",") || r.dockerIp || "-",
        String(r.count),
        fmtPct(r.share),
        fmtPct(r.expectedShare),
        fmtMs(r.latencyMs.p50),
        fmtMs(r.latencyMs.p99),
        String(r.errors),
        r.envoyRqTotal === null ? "-" : String(r.envoyRqTotal),
      ]);
    }
    for (const line of table(rows, new Set([3, 4, 5, 6, 7, 8, 9]))) lines.push(`  ${line}`);
    for (const f of s.failures) lines.push(`  ! ${f.count} × ${f.kind}${f.status !== null ? ` ${f.status}` : ""}: ${f.detail}`);
    if (s.layers) for (const line of table(layerRows(s, s.layers), new Set([1, 2, 3, 4]))) lines.push(`  ${line}`);
    for (const c of s.checks) lines.push(`  ${c.passed ? "PASS" : "FAIL"} ${s.service} ${c.name}: ${c.reason}`);
    lines.push("");
  }
  if (report.observability) lines.push(...bytesLines(report.observability), "");
  const checks = report.services.flatMap((s) => s.checks);
  const failed = checks.filter((c) => !c.passed).length;
  lines.push(
    `verify ${report.passed ? "PASSED" : "FAILED"}: ${checks.length - failed}/${checks.length} checks passed over ${report.services.length} service${
      report.services.length === 1 ? "" : "s"
    } (Envoy ${report.envoy.version.split("/")[1] ?? report.envoy.version}, ${report.envoy.concurrency} workers)`,
  );
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// JUnit XML
// ---------------------------------------------------------------------------------------------

export function escapeXml(s: string): string {
  // Characters XML 1.0 forbids are dropped; the five specials are escaped.
  return (
    s
      // biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters XML 1.0 forbids
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "")
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&apos;")
  );
}

/** JUnit XML: a testsuite per service, a testcase per check; failures carry the reason. */
export function toJUnit(report: VerifyReport): string {
  const all = report.services.flatMap((s) => s.checks);
  const failures = all.filter((c) => !c.passed).length;
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuites name="envoy-pipeline verify" tests="${all.length}" failures="${failures}" errors="0" time="${report.durationSeconds.toFixed(3)}" timestamp="${escapeXml(report.startedAt)}">`,
  );
  for (const s of report.services) {
    const f = s.checks.filter((c) => !c.passed).length;
    out.push(
      `  <testsuite name="verify.${escapeXml(s.service)}" tests="${s.checks.length}" failures="${f}" errors="0" skipped="0" time="${s.requests.durationSeconds.toFixed(3)}">`,
    );
    out.push("    <properties>");
    const props: [string, string][] = [
      ["path", s.path],
      ["cluster", s.cluster],
      ["lbPolicy", s.lbPolicy],
      ["requests", String(s.requests.sent)],
      [
        "replicas",
        s.replicas
          .filter((r) => r.expected)
          .map((r) => r.hostname)
          .join(","),
      ],
    ];
    if (s.layers) {
      const dist = (d: Record<string, number>): string =>
        Object.entries(d)
          .map(([h, n]) => `${h}=${n}`)
          .join(",");
      props.push(["layers.l4.connectionsPerReplica", dist(s.layers.l4.connectionsPerReplica)]);
      props.push(["layers.l7.requestsPerReplica", dist(s.layers.l7.requestsPerReplica)]);
    }
    for (const [k, v] of props) out.push(`      <property name="${escapeXml(k)}" value="${escapeXml(v)}"/>`);
    out.push("    </properties>");
    for (const c of s.checks) {
      const name = `${c.name}`;
      const classname = `verify.${s.service}`;
      if (c.passed) {
        out.push(`    <testcase classname="${escapeXml(classname)}" name="${escapeXml(name)}" time="0">`);
        out.push(`      <system-out>${escapeXml(c.reason)}</system-out>`);
        out.push("    </testcase>");
      } else {
        out.push(`    <testcase classname="${escapeXml(classname)}" name="${escapeXml(name)}" time="0">`);
        const body = [c.reason, c.culprits.length > 0 ? `culprits: ${c.culprits.join(", ")}` : "", ...c.details]
          .filter((x) => x !== "")
          .join("\n");
        out.push(`      <failure message="${escapeXml(c.reason)}" type="${escapeXml(c.name)}">${escapeXml(body)}</failure>`);
        out.push("    </testcase>");
      }
    }
    out.push("  </testsuite>");
  }
  out.push("</testsuites>");
  return `${out.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

/** Bar chart of answers per replica, with each replica's expected count as a dashed line. */
function distributionSvg(s: ServiceReport): string {
  const rows = s.replicas;
  const total = rows.reduce((sum, r) => sum + r.count, 0);
  const expectedCounts = rows.map((r) => (r.expectedShare === null ? null : r.expectedShare * total));
  const maxY = Math.max(1, ...rows.map((r) => r.count), ...expectedCounts.map((e) => e ?? 0)) * 1.12;
  const W = Math.max(420, 90 * rows.length + 60);
  const H = 240;
  const left = 50;
  const bottom = 40;
  const plotH = H - bottom - 16;
  const slot = (W - left - 10) / Math.max(1, rows.length);
  const y = (v: number): number => 16 + plotH - (v / maxY) * plotH;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="answers per replica for ${escapeHtml(s.service)}">`,
  );
  for (let k = 0; k <= 4; k++) {
    const v = (maxY / 1.12) * (k / 4);
    parts.push(`<line x1="${left}" x2="${W - 10}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" class="axis">${Math.round(v)}</text>`);
  }
  rows.forEach((r, i) => {
    const x = left + i * slot + slot * 0.15;
    const w = slot * 0.7;
    const cls = !r.expected ? "bar bad" : r.errors > 0 ? "bar warn" : "bar";
    parts.push(
      `<rect x="${x.toFixed(1)}" y="${y(r.count).toFixed(1)}" width="${w.toFixed(1)}" height="${(y(0) - y(r.count)).toFixed(1)}" class="${cls}"><title>${escapeHtml(
        `${r.hostname}: ${r.count} (${fmtPct(r.share)}; expected ${fmtPct(r.expectedShare)})`,
      )}</title></rect>`,
    );
    parts.push(`<text x="${(x + w / 2).toFixed(1)}" y="${(y(r.count) - 4).toFixed(1)}" text-anchor="middle" class="val">${r.count}</text>`);
    parts.push(
      `<text x="${(x + w / 2).toFixed(1)}" y="${H - bottom + 16}" text-anchor="middle" class="axis">${escapeHtml(r.hostname.slice(0, 14))}</text>`,
    );
    const e = expectedCounts[i];
    if (e !== null && e !== undefined) {
      parts.push(
        `<line x1="${(x - slot * 0.1).toFixed(1)}" x2="${(x + w + slot * 0.1).toFixed(1)}" y1="${y(e).toFixed(1)}" y2="${y(e).toFixed(1)}" class="fair"><title>expected ${e.toFixed(1)}</title></line>`,
      );
    }
  });
  parts.push(`<text x="${left}" y="${H - 6}" class="axis">bars: answers per replica; dashed: expected count (fair share)</text>`);
  parts.push("</svg>");
  return parts.join("");
}

/** Latency histogram (log buckets) of the whole service. */
function latencySvg(s: ServiceReport): string {
  const { edgesMs, counts } = s.histogram;
  if (counts.length === 0) return "<p>no latencies</p>";
  // Trim empty buckets at the start.
  let first = counts.findIndex((c) => c > 0);
  if (first < 0) first = 0;
  const e = edgesMs.slice(first);
  const c = counts.slice(first);
  const W = Math.max(360, Math.min(900, 14 * c.length + 70));
  const H = 200;
  const left = 50;
  const bottom = 36;
  const plotH = H - bottom - 12;
  const maxC = Math.max(1, ...c);
  const bw = (W - left - 10) / c.length;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="latency histogram for ${escapeHtml(s.service)}">`,
  );
  parts.push(`<text x="${left - 6}" y="16" text-anchor="end" class="axis">${maxC}</text>`);
  c.forEach((count, i) => {
    const h = (count / maxC) * plotH;
    const x = left + i * bw;
    parts.push(
      `<rect x="${x.toFixed(1)}" y="${(12 + plotH - h).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${h.toFixed(1)}" class="hist"><title>≤ ${e[i]} ms: ${count}</title></rect>`,
    );
    if (i % Math.max(1, Math.ceil(c.length / 8)) === 0) {
      parts.push(`<text x="${x.toFixed(1)}" y="${H - bottom + 14}" class="axis">${fmtMs(e[i] ?? null)}</text>`);
    }
  });
  parts.push(`<text x="${left}" y="${H - 6}" class="axis">latency (ms, bucket upper edge, log scale)</text>`);
  parts.push("</svg>");
  return parts.join("");
}

/**
 * One HTML page that renders fully under Jenkins' Content-Security-Policy for archived files (no
 * inline <style>, no style="", no script): its stylesheet is verify.css beside it, and the charts
 * carry their colours as SVG presentation attributes too (see report-style.ts).
 */
export function toHtml(report: VerifyReport): string {
  const out: string[] = [];
  out.push("<!DOCTYPE html>");
  out.push(
    `<html lang="en"><head><meta charset="utf-8"><title>verify ${report.passed ? "PASSED" : "FAILED"}</title><link rel="stylesheet" href="${REPORT_STYLESHEET}"></head><body>`,
  );
  out.push(
    `<h1>Envoy load-balancing verification: <span class="${report.passed ? "pass" : "fail"}">${report.passed ? "PASSED" : "FAILED"}</span></h1>`,
  );
  out.push(
    `<p class="muted">${escapeHtml(report.startedAt)} · ${report.durationSeconds.toFixed(1)} s · Envoy ${escapeHtml(report.envoy.version)} · ${report.envoy.concurrency} workers · listener <code>${escapeHtml(
      report.listenerUrl,
    )}</code> · alpha ${report.settings.alpha} · power target ${report.settings.power}</p>`,
  );
  for (const s of report.services) {
    out.push(`<h2>${escapeHtml(s.service)} <span class="${s.passed ? "pass" : "fail"}">${s.passed ? "PASS" : "FAIL"}</span></h2>`);
    out.push(`<p>${escapeHtml(serviceHeader(s))}</p>`);
    out.push(`<p class="muted">${escapeHtml(s.requests.plannedBy)}</p>`);
    out.push("<table><tr><th>check</th><th>verdict</th><th>reason</th></tr>");
    for (const c of s.checks) {
      out.push(
        `<tr><td>${escapeHtml(c.name)}</td><td class="${c.passed ? "pass" : "fail"}">${c.passed ? "PASS" : "FAIL"}</td><td>${escapeHtml(c.reason)}${
          c.details.length > 0 ? `<br><span class="muted">${c.details.map(escapeHtml).join("<br>")}</span>` : ""
        }</td></tr>`,
      );
    }
    out.push("</table>");
    out.push(`<div class="charts"><div>${distributionSvg(s)}</div><div>${latencySvg(s)}</div></div>`);
    out.push(
      "<table><tr><th>replica</th><th>hostname</th><th>ip</th><th>count</th><th>share</th><th>expected</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th><th>errors</th><th>Envoy rq_total</th></tr>",
    );
    for (const r of s.replicas) {
      out.push(
        `<tr><td>${escapeHtml(r.container ?? "(not a replica)")}</td><td>${escapeHtml(r.hostname)}</td><td>${escapeHtml(r.reportedIps.join(", ") || r.dockerIp || "-")}</td><td class="n">${r.count}</td><td class="n">${fmtPct(
          r.share,
        )}</td><td class="n">${fmtPct(r.expectedShare)}</td><td class="n">${fmtMs(r.latencyMs.p50)}</td><td class="n">${fmtMs(r.latencyMs.p90)}</td><td class="n">${fmtMs(
          r.latencyMs.p99,
        )}</td><td class="n">${fmtMs(r.latencyMs.max)}</td><td class="n">${r.errors}</td><td class="n">${r.envoyRqTotal ?? "-"}</td></tr>`,
      );
    }
    out.push("</table>");
    const b = s.balance;
    const stat =
      b.method === "chi-square"
        ? `X² = ${b.statistic?.toFixed(3)}, df = ${b.df}, p = ${b.pValue?.toExponential(3)}, alpha = ${b.alpha}`
        : b.method === "round-robin-bound"
          ? `bound per replica ${b.bounds?.map((x) => x.toFixed(2)).join(" / ")} (W = ${b.workers}, retries ${b.retries}, unattributed ${b.unattributed}, foreign ${b.foreign}, host-set changes ${b.hostSetChanges})`
          : "one replica";
    out.push(
      `<p><b>balance</b> (${escapeHtml(b.method)}): ${escapeHtml(stat)}; max/min ${b.maxMinRatio?.toFixed(3) ?? "∞"}; ${escapeHtml(b.powerNote)}</p>`,
    );
    if (b.notes.length > 0) out.push(`<ul>${b.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul>`);
    if (s.failures.length > 0) {
      out.push(
        `<p><b>failures without a replica</b></p><ul>${s.failures.map((f) => `<li>${f.count} × ${escapeHtml(f.kind)} ${f.status ?? ""}: ${escapeHtml(f.detail)}</li>`).join("")}</ul>`,
      );
    }
    if (s.layers) {
      const [head, ...rows] = layerRows(s, s.layers);
      out.push(
        `<table class="layers"><caption>Envoy's two layers: L4 balances per connection, L7 per request (L4 listener <code>${escapeHtml(s.layers.l4.url)}</code>)</caption><tr>${(head ?? []).map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr>`,
      );
      for (const r of rows) out.push(`<tr><td>${escapeHtml(r[0] ?? "")}</td><td class="n">${r[1]}</td><td class="n">${r[2]}</td></tr>`);
      out.push("</table>");
    }
    if (s.convergence) {
      const c = s.convergence;
      out.push(
        `<p><b>convergence</b>: ${c.converged ? `${c.seconds?.toFixed(2)} s after the scale started (${c.afterScaleSeconds?.toFixed(2)} s after it returned)` : "did not converge"}; scale took ${c.scaleSeconds.toFixed(2)} s; ${c.rounds} probe rounds, resolution ${c.resolutionSeconds.toFixed(2)} s</p>`,
      );
    }
  }
  if (report.observability) out.push(observabilityHtml(report.observability));
  out.push("</body></html>");
  return withPresentationAttributes(`${out.join("\n")}\n`);
}

export interface WrittenReports {
  json: string;
  junit: string;
  html: string;
  /** verify.html's stylesheet: archive it with the page. */
  css: string;
}

/** Every file writeReports may write: removed before a run so that no stale result survives it. */
export const REPORT_FILES = ["verify.json", "junit.xml", "verify.html", REPORT_STYLESHEET] as const;

/** Removes an earlier run's reports from `dir` (only the files verify writes), so Jenkins never shows them. */
export async function clearReports(dir: string): Promise<void> {
  await Promise.all(REPORT_FILES.map((f) => rm(join(dir, f), { force: true })));
}

/** Writes verify.json, junit.xml, verify.html and its verify.css into `dir` (created if missing). */
export async function writeReports(report: VerifyReport, dir: string): Promise<WrittenReports> {
  const checked = verifyReportSchema.parse(report);
  await mkdir(dir, { recursive: true });
  const paths = {
    json: join(dir, "verify.json"),
    junit: join(dir, "junit.xml"),
    html: join(dir, "verify.html"),
    css: join(dir, REPORT_STYLESHEET),
  };
  await Promise.all([
    writeFile(paths.json, `${JSON.stringify(checked, null, 2)}\n`),
    writeFile(paths.junit, toJUnit(checked)),
    writeFile(paths.html, toHtml(checked)),
    writeFile(paths.css, REPORT_CSS),
  ]);
  return paths;
}
