// The verify report in its three outward forms: a terminal table with one verdict line per check,
// JUnit XML for Jenkins' `junit` step (one testcase per check per service), and one
// self-contained HTML page (inline CSS and SVG, no external assets). verify.json is the
// VerifyReport itself.
import { mkdir, writeFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { ObservabilityPanel, PanelBytes } from "../observability/report.ts";
import { verifyReportSchema, type ServiceReport, type VerifyReport } from "./schema.ts";
import { REPORT_CSS, REPORT_STYLESHEET, withPresentationAttributes } from "./report-style.ts";

const fmtMs = (v: number | null): string => (v === null ? "-" : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
const fmtPct = (v: number | null): string => (v === null ? "-" : `${(v * 100).toFixed(1)} %`);

function table(rows: string[][], rightAligned: ReadonlySet<number>): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd(),
  );
}

function serviceHeader(s: ServiceReport): string {
  const r = s.requests;
  return `${s.service}  ${s.path} -> cluster ${s.cluster}  ${s.lbPolicy}  ${r.sent} requests (${r.concurrency} in flight, ${r.connectionsOpened} connections)  ${r.requestsPerSecond.toFixed(0)} req/s  p50 ${fmtMs(s.latencyMs.p50)} ms  p99 ${fmtMs(s.latencyMs.p99)} ms`;
}

/** Bytes as B, KiB or MiB; "–" without data. */
function fmtBytes(v: number | null | undefined): string {
  if (typeof v !== "number" || !Number.isFinite(v)) return NO_DATA;
  if (v < 1024) return `${Math.round(v)} B`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} KiB`;
  return `${(v / 1024 / 1024).toFixed(1)} MiB`;
}
const fmtBandwidth = (v: number | null | undefined): string => (typeof v === "number" && Number.isFinite(v) ? `${fmtBytes(v)}/s` : NO_DATA);

interface BytesRow {
  what: string;
  bytes: PanelBytes | undefined;
}

/** Rows of the bytes table: Envoy's listener, each Envoy cluster, each service's replicas. */
function bytesRows(panel: ObservabilityPanel): BytesRow[] {
  return [
    { what: "Envoy listener (from/to clients)", bytes: panel.envoy.bytes?.listener },
    ...(panel.envoy.bytes?.clusters ?? []).map((c) => ({ what: `Envoy cluster ${c.cluster} (from/to replicas)`, bytes: c })),
    ...panel.services.map((s) => ({ what: `${s.service} replicas (bodies)`, bytes: s.bytes })),
  ];
}

/** The terminal's bytes and bandwidth table, from Prometheus over the run. */
function bytesLines(panel: ObservabilityPanel): string[] {
  const rows = [["from Prometheus", "bytes in", "in/s", "bytes out", "out/s"]];
  for (const { what, bytes } of bytesRows(panel)) rows.push([what, fmtBytes(bytes?.in), fmtBandwidth(bytes?.inPerSecond), fmtBytes(bytes?.out), fmtBandwidth(bytes?.outPerSecond)]);
  return [`bytes and bandwidth over ${fmtWindow(panel.window)} (Prometheus):`, ...table(rows, new Set([1, 2, 3, 4])).map((l) => `  ${l}`)];
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
  return s
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
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
      ["replicas", s.replicas.filter((r) => r.expected).map((r) => r.hostname).join(",")],
    ];
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
        const body = [c.reason, c.culprits.length > 0 ? `culprits: ${c.culprits.join(", ")}` : "", ...c.details].filter((x) => x !== "").join("\n");
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

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

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
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="answers per replica for ${escapeHtml(s.service)}">`);
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
    parts.push(`<text x="${(x + w / 2).toFixed(1)}" y="${H - bottom + 16}" text-anchor="middle" class="axis">${escapeHtml(r.hostname.slice(0, 14))}</text>`);
    const e = expectedCounts[i];
    if (e !== null && e !== undefined) {
      parts.push(`<line x1="${(x - slot * 0.1).toFixed(1)}" x2="${(x + w + slot * 0.1).toFixed(1)}" y1="${y(e).toFixed(1)}" y2="${y(e).toFixed(1)}" class="fair"><title>expected ${e.toFixed(1)}</title></line>`);
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
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="latency histogram for ${escapeHtml(s.service)}">`);
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

// ---- The "From Prometheus" section (report.observability) ----

/** What the panel shows for a value Prometheus had no data for (null) or that is not a number. */
const NO_DATA = "–";
type Panel = ObservabilityPanel;
type PanelRow = Omit<Panel["services"][number], "service" | "replicas">;
const isNum = (v: number | null | undefined): v is number => typeof v === "number" && Number.isFinite(v);
/** Seconds (Prometheus' unit) shown as milliseconds. */
const fmtSecAsMs = (v: number | null): string => (isNum(v) ? fmtMs(v * 1000) : NO_DATA);
const fmtRate = (v: number | null): string => (isNum(v) ? (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)) : NO_DATA);
const fmtCount = (v: number | null): string => (isNum(v) ? String(Math.round(v)) : NO_DATA);
const fmtRatio = (v: number | null): string => (isNum(v) ? `${(v * 100).toFixed(2)} %` : NO_DATA);
const fmtMiB = (v: number | null): string => (isNum(v) ? `${(v / 1024 / 1024).toFixed(1)} MiB` : NO_DATA);
/** A window such as "6123ms" as "6.1 s"; other PromQL durations ("2m") as they are. */
const fmtWindow = (w: string): string => {
  const ms = /^(\d+)ms$/.exec(w)?.[1];
  return ms !== undefined && Number(ms) >= 1000 ? `${(Number(ms) / 1000).toFixed(1)} s` : w;
};
const fmtCpu = (v: number | null): string => (isNum(v) ? `${v.toFixed(1)} %` : NO_DATA);

const STATUS_ORDER = ["1xx", "2xx", "3xx", "4xx", "5xx"];
/** Status classes in HTTP order (unknown ones last), non-numbers dropped. */
function classesOf(row: PanelRow): [string, number][] {
  const rank = (k: string): number => (STATUS_ORDER.includes(k) ? STATUS_ORDER.indexOf(k) : STATUS_ORDER.length);
  return Object.entries(row.statusClasses)
    .filter(([, n]) => isNum(n))
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}
const fmtClasses = (row: PanelRow): string => classesOf(row).map(([k, n]) => `${k} ${Math.round(n)}`).join(" · ") || NO_DATA;
const classCss = (k: string): string => (STATUS_ORDER.includes(k) ? `sc${k[0]}` : "scx");

/** The service's own row first ("all replicas"), then each replica's. */
function panelRows(s: Panel["services"][number]): { label: string; title: string; row: PanelRow; total: boolean }[] {
  return [
    { label: "all", title: `${s.service}, all replicas`, row: s, total: true },
    ...s.replicas.map((r) => ({ label: r.replica, title: `${s.service} replica ${r.replica}`, row: r, total: false })),
  ];
}

/** Grouped bars of p50/p90/p99 (ms, log scale) for the service and each replica; "–" where no data. */
function panelLatencySvg(s: Panel["services"][number]): string {
  const rows = panelRows(s);
  const qs = [
    ["p50", "q50"],
    ["p90", "q90"],
    ["p99", "q99"],
  ] as const;
  const valuesMs = rows.flatMap(({ row }) => qs.map(([q]) => row.latency[q])).filter(isNum).map((v) => v * 1000).filter((v) => v > 0);
  const W = Math.max(440, 108 * rows.length + 70);
  const H = 250;
  const left = 56;
  const top = 30;
  const bottom = 44;
  const plotH = H - top - bottom;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="latency quantiles per replica for ${escapeHtml(s.service)}">`);
  // Legend.
  qs.forEach(([q, cls], i) => {
    const x = left + i * 62;
    parts.push(`<rect x="${x}" y="6" width="12" height="12" class="${cls}"/><text x="${x + 16}" y="16" class="axis">${q}</text>`);
  });
  if (valuesMs.length === 0) {
    parts.push(`<text x="${left}" y="${top + plotH / 2}" class="axis">${escapeHtml(`${NO_DATA} no latency data in the window`)}</text>`);
    parts.push("</svg>");
    return parts.join("");
  }
  // Decades from below the smallest value; above the largest, room for its label (×1.4).
  const lo = Math.floor(Math.log10(Math.min(...valuesMs)));
  const hi = Math.max(lo + 1, Math.log10(Math.max(...valuesMs)) + Math.log10(1.4));
  const y = (ms: number): number => top + plotH - ((Math.log10(Math.max(ms, 10 ** lo)) - lo) / (hi - lo)) * plotH;
  for (let d = lo; d <= hi; d++) {
    const v = 10 ** d;
    parts.push(`<line x1="${left}" x2="${W - 10}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" class="axis">${escapeHtml(v >= 1 ? String(v) : v.toFixed(-d))}</text>`);
  }
  const slot = (W - left - 10) / rows.length;
  const bw = Math.min(26, (slot * 0.84) / qs.length);
  rows.forEach(({ label, title, row, total }, i) => {
    const x0 = left + i * slot + (slot - bw * qs.length) / 2;
    qs.forEach(([q, cls], j) => {
      const x = x0 + j * bw;
      const cx = (x + bw / 2).toFixed(1);
      const v = row.latency[q];
      if (!isNum(v)) {
        parts.push(`<text x="${cx}" y="${(y(0) - 4).toFixed(1)}" text-anchor="middle" class="val"><title>${escapeHtml(`${title}: ${q} no data`)}</title>${NO_DATA}</text>`);
        return;
      }
      const ms = v * 1000;
      const yTop = Math.min(y(ms), y(0) - 1);
      parts.push(
        `<rect x="${(x + 1).toFixed(1)}" y="${yTop.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(y(0) - yTop).toFixed(1)}" class="${cls}"><title>${escapeHtml(
          `${title}: ${q} ${fmtMs(ms)} ms`,
        )}</title></rect>`,
      );
      parts.push(`<text x="${cx}" y="${(yTop - 4).toFixed(1)}" text-anchor="middle" class="val small">${escapeHtml(fmtMs(ms))}</text>`);
    });
    const lx = (left + i * slot + slot / 2).toFixed(1);
    if (qs.every(([q]) => !isNum(row.latency[q]))) {
      parts.push(`<text x="${lx}" y="${(top + plotH / 2).toFixed(1)}" text-anchor="middle" class="axis">no data</text>`);
    }
    // The service's own quantiles first, set apart from its replicas'.
    if (total && rows.length > 1) {
      const sx = (left + slot).toFixed(1);
      parts.push(`<line x1="${sx}" x2="${sx}" y1="${top}" y2="${top + plotH + 4}" class="sep"/>`);
    }
    parts.push(`<text x="${lx}" y="${top + plotH + 16}" text-anchor="middle" class="axis${total ? " strong" : ""}">${escapeHtml(label.slice(0, 14))}</text>`);
  });
  parts.push(`<text x="${left}" y="${H - 6}" class="axis">latency quantiles (ms, log scale) from the services' histograms</text>`);
  parts.push("</svg>");
  return parts.join("");
}

/** Per replica: answers as a bar stacked by status class, and the error ratio (5xx share). */
function panelErrorSvg(s: Panel["services"][number]): string {
  const rows = panelRows(s);
  const rowH = 30;
  const top = 30;
  const labelW = 110;
  const barW = 230;
  const W = labelW + barW + 250;
  const H = top + rows.length * rowH + 26;
  const maxCount = Math.max(1, ...rows.map(({ row }) => classesOf(row).reduce((sum, [, n]) => sum + n, 0)));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="error rate per replica for ${escapeHtml(s.service)}">`);
  ["2xx", "3xx", "4xx", "5xx"].forEach((k, i) => {
    const x = labelW + i * 58;
    parts.push(`<rect x="${x}" y="6" width="12" height="12" class="${classCss(k)}"/><text x="${x + 16}" y="16" class="axis">${k}</text>`);
  });
  rows.forEach(({ label, title, row, total }, i) => {
    const yRow = top + i * rowH;
    parts.push(`<text x="${labelW - 8}" y="${yRow + 15}" text-anchor="end" class="axis${total ? " strong" : ""}">${escapeHtml(label.slice(0, 14))}</text>`);
    parts.push(`<rect x="${labelW}" y="${yRow + 3}" width="${barW}" height="16" class="track"/>`);
    let x = labelW;
    for (const [k, n] of classesOf(row)) {
      const w = (n / maxCount) * barW;
      if (w <= 0) continue;
      parts.push(`<rect x="${x.toFixed(1)}" y="${yRow + 3}" width="${w.toFixed(1)}" height="16" class="${classCss(k)}"><title>${escapeHtml(`${title}: ${k} ${Math.round(n)}`)}</title></rect>`);
      x += w;
    }
    const err = row.errorRatio;
    const cls = isNum(err) && err > 0 ? "val bad" : "val";
    parts.push(
      `<text x="${labelW + barW + 10}" y="${yRow + 15}" class="${cls}">${escapeHtml(`errors ${fmtRatio(err)}`)}<tspan dx="10" class="axis">${escapeHtml(
        classesOf(row).length > 0 ? fmtClasses(row) : "no answers in the window",
      )}</tspan></text>`,
    );
  });
  parts.push(`<text x="${labelW}" y="${H - 6}" class="axis">answers by status class (bar) and error ratio (5xx share) in the window</text>`);
  parts.push("</svg>");
  return parts.join("");
}

/** The "From Prometheus" section: per service latency and error-rate panels, Envoy's numbers. */
function observabilityHtml(panel: Panel): string {
  const out: string[] = [];
  out.push('<section class="prom">');
  out.push("<h2>From Prometheus</h2>");
  out.push(
    `<p class="muted">${escapeHtml(
      `Window ${fmtWindow(panel.window)} ending ${panel.generatedAt}: the growth of the replicas' own counters and latency histograms as Prometheus scraped them; requests/s is the window's average. The latencies are measured inside the services, so they exclude Envoy and the network. ${NO_DATA} means Prometheus had no data (no traffic in the window).`,
    )}</p>`,
  );
  const e = panel.envoy;
  out.push("<h3>Envoy</h3>");
  out.push('<table class="envoy"><tr><th>CPU</th><th>memory allocated</th><th>downstream connections</th><th>requests/s</th></tr>');
  out.push(
    `<tr><td class="n">${escapeHtml(fmtCpu(e.cpuPercent))}</td><td class="n">${escapeHtml(fmtMiB(e.memoryAllocatedBytes))}</td><td class="n">${escapeHtml(
      fmtCount(e.downstreamConnections),
    )}</td><td class="n">${escapeHtml(fmtRate(e.requestsPerSecond))}</td></tr>`,
  );
  out.push("</table>");
  out.push('<table class="bytes"><tr><th>bytes (headers included for Envoy, bodies for the replicas)</th><th>in</th><th>in/s</th><th>out</th><th>out/s</th></tr>');
  for (const { what, bytes } of bytesRows(panel)) {
    out.push(
      `<tr><td>${escapeHtml(what)}</td><td class="n">${escapeHtml(fmtBytes(bytes?.in))}</td><td class="n">${escapeHtml(fmtBandwidth(bytes?.inPerSecond))}</td><td class="n">${escapeHtml(
        fmtBytes(bytes?.out),
      )}</td><td class="n">${escapeHtml(fmtBandwidth(bytes?.outPerSecond))}</td></tr>`,
    );
  }
  out.push("</table>");
  if (panel.services.length === 0) out.push(`<p class="muted">${escapeHtml(`${NO_DATA} Prometheus had no service series in the window`)}</p>`);
  for (const s of panel.services) {
    out.push(`<h3>${escapeHtml(s.service)}</h3>`);
    out.push(`<div class="charts"><div>${panelLatencySvg(s)}</div><div>${panelErrorSvg(s)}</div></div>`);
    out.push(
      "<table><tr><th>replica</th><th>requests</th><th>requests/s</th><th>error ratio</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>status classes</th><th>bytes in</th><th>bytes out</th><th>out/s</th></tr>",
    );
    for (const { label, row, total } of panelRows(s)) {
      const err = row.errorRatio;
      out.push(
        `<tr${total ? ' class="total"' : ""}><td>${escapeHtml(total ? "all replicas" : label)}</td><td class="n">${escapeHtml(fmtCount(row.requests))}</td><td class="n">${escapeHtml(
          fmtRate(row.requestsPerSecond),
        )}</td><td class="n${isNum(err) && err > 0 ? " fail" : ""}">${escapeHtml(fmtRatio(err))}</td><td class="n">${escapeHtml(fmtSecAsMs(row.latency.p50))}</td><td class="n">${escapeHtml(
          fmtSecAsMs(row.latency.p90),
        )}</td><td class="n">${escapeHtml(fmtSecAsMs(row.latency.p99))}</td><td>${escapeHtml(fmtClasses(row))}</td><td class="n">${escapeHtml(fmtBytes(row.bytes?.in))}</td><td class="n">${escapeHtml(
          fmtBytes(row.bytes?.out),
        )}</td><td class="n">${escapeHtml(fmtBandwidth(row.bytes?.outPerSecond))}</td></tr>`,
      );
    }
    out.push("</table>");
  }
  out.push("</section>");
  return out.join("\n");
}

/**
 * One HTML page that renders fully under Jenkins' Content-Security-Policy for archived files (no
 * inline <style>, no style="", no script): its stylesheet is verify.css beside it, and the charts
 * carry their colours as SVG presentation attributes too (see report-style.ts).
 */
export function toHtml(report: VerifyReport): string {
  const out: string[] = [];
  out.push("<!DOCTYPE html>");
  out.push(`<html lang="en"><head><meta charset="utf-8"><title>verify ${report.passed ? "PASSED" : "FAILED"}</title><link rel="stylesheet" href="${REPORT_STYLESHEET}"></head><body>`);
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
    out.push('<table><tr><th>check</th><th>verdict</th><th>reason</th></tr>');
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
      out.push(`<p><b>failures without a replica</b></p><ul>${s.failures.map((f) => `<li>${f.count} × ${escapeHtml(f.kind)} ${f.status ?? ""}: ${escapeHtml(f.detail)}</li>`).join("")}</ul>`);
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
  const paths = { json: join(dir, "verify.json"), junit: join(dir, "junit.xml"), html: join(dir, "verify.html"), css: join(dir, REPORT_STYLESHEET) };
  await Promise.all([
    writeFile(paths.json, `${JSON.stringify(checked, null, 2)}\n`),
    writeFile(paths.junit, toJUnit(checked)),
    writeFile(paths.html, toHtml(checked)),
    writeFile(paths.css, REPORT_CSS),
  ]);
  return paths;
}
