// The report's "From Prometheus" section, in the terminal and in verify.html: latency quantiles, error rates
// and status classes per service and replica, Envoy's CPU, memory and connections, bytes and bandwidth.
// Design notes: docs/observability.md ("observability/panel-view.ts").
import { escapeHtml, fmtMs, table } from "../lib/format.ts";
import type { ObservabilityPanel, PanelBytes } from "./report.ts";

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
export function bytesLines(panel: ObservabilityPanel): string[] {
  const rows = [["from Prometheus", "bytes in", "in/s", "bytes out", "out/s"]];
  for (const { what, bytes } of bytesRows(panel))
    rows.push([what, fmtBytes(bytes?.in), fmtBandwidth(bytes?.inPerSecond), fmtBytes(bytes?.out), fmtBandwidth(bytes?.outPerSecond)]);
  return [`bytes and bandwidth over ${fmtWindow(panel.window)} (Prometheus):`, ...table(rows, new Set([1, 2, 3, 4])).map((l) => `  ${l}`)];
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
const fmtClasses = (row: PanelRow): string =>
  classesOf(row)
    .map(([k, n]) => `${k} ${Math.round(n)}`)
    .join(" · ") || NO_DATA;
const classCss = (k: string): string => (STATUS_ORDER.includes(k) ? `sc${k[0]}` : "scx");

/** The service's own row first ("all replicas"), then each replica's. */
function panelRows(s: Panel["services"][number]): { label: string; title: string; row: PanelRow; total: boolean }[] {
  return [
    { label: "all", title: `${s.service}, all replicas`, row: s, total: true },
    ...s.replicas.map((r) => ({ label: r.replica, title: `${s.service} replica ${r.replica}`, row: r, total: false })),
  ];
}

/** The quantiles and their CSS classes, in the order the bars are drawn. */
const LATENCY_QS = [
  ["p50", "q50"],
  ["p90", "q90"],
  ["p99", "q99"],
] as const;

/** One group of quantile bars starting at `x0`, `bw` wide each, with their value labels. */
function latencyBars(x0: number, bw: number, latency: PanelRow["latency"], title: string, y: (ms: number) => number): string[] {
  const out: string[] = [];
  LATENCY_QS.forEach(([q, cls], j) => {
    const x = x0 + j * bw;
    const cx = (x + bw / 2).toFixed(1);
    const v = latency[q];
    if (!isNum(v)) {
      out.push(
        `<text x="${cx}" y="${(y(0) - 4).toFixed(1)}" text-anchor="middle" class="val"><title>${escapeHtml(`${title}: ${q} no data`)}</title>${NO_DATA}</text>`,
      );
      return;
    }
    const ms = v * 1000;
    const yTop = Math.min(y(ms), y(0) - 1);
    out.push(
      `<rect x="${(x + 1).toFixed(1)}" y="${yTop.toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(y(0) - yTop).toFixed(1)}" class="${cls}"><title>${escapeHtml(
        `${title}: ${q} ${fmtMs(ms)} ms`,
      )}</title></rect>`,
    );
    out.push(`<text x="${cx}" y="${(yTop - 4).toFixed(1)}" text-anchor="middle" class="val small">${escapeHtml(fmtMs(ms))}</text>`);
  });
  return out;
}

/** Grouped bars of p50/p90/p99 (ms, log scale) for the service and each replica; "–" where no data. */
function panelLatencySvg(s: Panel["services"][number]): string {
  const rows = panelRows(s);
  const qs = LATENCY_QS;
  const valuesMs = rows
    .flatMap(({ row }) => qs.map(([q]) => row.latency[q]))
    .filter(isNum)
    .map((v) => v * 1000)
    .filter((v) => v > 0);
  const W = Math.max(440, 108 * rows.length + 70);
  const H = 250;
  const left = 56;
  const top = 30;
  const bottom = 44;
  const plotH = H - top - bottom;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="latency quantiles per replica for ${escapeHtml(s.service)}">`,
  );
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
    parts.push(
      `<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" class="axis">${escapeHtml(v >= 1 ? String(v) : v.toFixed(-d))}</text>`,
    );
  }
  const slot = (W - left - 10) / rows.length;
  const bw = Math.min(26, (slot * 0.84) / qs.length);
  rows.forEach(({ label, title, row, total }, i) => {
    const x0 = left + i * slot + (slot - bw * qs.length) / 2;
    parts.push(...latencyBars(x0, bw, row.latency, title, y));
    const lx = (left + i * slot + slot / 2).toFixed(1);
    if (qs.every(([q]) => !isNum(row.latency[q]))) {
      parts.push(`<text x="${lx}" y="${(top + plotH / 2).toFixed(1)}" text-anchor="middle" class="axis">no data</text>`);
    }
    // The service's own quantiles first, set apart from its replicas'.
    if (total && rows.length > 1) {
      const sx = (left + slot).toFixed(1);
      parts.push(`<line x1="${sx}" x2="${sx}" y1="${top}" y2="${top + plotH + 4}" class="sep"/>`);
    }
    parts.push(
      `<text x="${lx}" y="${top + plotH + 16}" text-anchor="middle" class="axis${total ? " strong" : ""}">${escapeHtml(label.slice(0, 14))}</text>`,
    );
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
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="error rate per replica for ${escapeHtml(s.service)}">`,
  );
  ["2xx", "3xx", "4xx", "5xx"].forEach((k, i) => {
    const x = labelW + i * 58;
    parts.push(`<rect x="${x}" y="6" width="12" height="12" class="${classCss(k)}"/><text x="${x + 16}" y="16" class="axis">${k}</text>`);
  });
  rows.forEach(({ label, title, row, total }, i) => {
    const yRow = top + i * rowH;
    parts.push(
      `<text x="${labelW - 8}" y="${yRow + 15}" text-anchor="end" class="axis${total ? " strong" : ""}">${escapeHtml(label.slice(0, 14))}</text>`,
    );
    parts.push(`<rect x="${labelW}" y="${yRow + 3}" width="${barW}" height="16" class="track"/>`);
    let x = labelW;
    for (const [k, n] of classesOf(row)) {
      const w = (n / maxCount) * barW;
      if (w <= 0) continue;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${yRow + 3}" width="${w.toFixed(1)}" height="16" class="${classCss(k)}"><title>${escapeHtml(`${title}: ${k} ${Math.round(n)}`)}</title></rect>`,
      );
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
  parts.push(
    `<text x="${labelW}" y="${H - 6}" class="axis">answers by status class (bar) and error ratio (5xx share) in the window</text>`,
  );
  parts.push("</svg>");
  return parts.join("");
}

/** The "From Prometheus" section: per service latency and error-rate panels, Envoy's numbers. */
export function observabilityHtml(panel: Panel): string {
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
  out.push(
    '<table class="bytes"><tr><th>bytes (headers included for Envoy, bodies for the replicas)</th><th>in</th><th>in/s</th><th>out</th><th>out/s</th></tr>',
  );
  for (const { what, bytes } of bytesRows(panel)) {
    out.push(
      `<tr><td>${escapeHtml(what)}</td><td class="n">${escapeHtml(fmtBytes(bytes?.in))}</td><td class="n">${escapeHtml(fmtBandwidth(bytes?.inPerSecond))}</td><td class="n">${escapeHtml(
        fmtBytes(bytes?.out),
      )}</td><td class="n">${escapeHtml(fmtBandwidth(bytes?.outPerSecond))}</td></tr>`,
    );
  }
  out.push("</table>");
  if (panel.services.length === 0)
    out.push(`<p class="muted">${escapeHtml(`${NO_DATA} Prometheus had no service series in the window`)}</p>`);
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
