// Formatting shared by the terminal tables and the HTML reports (verify's and the Prometheus panel's).

export const fmtMs = (v: number | null): string => (v === null ? "-" : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
export const fmtPct = (v: number | null): string => (v === null ? "-" : `${(v * 100).toFixed(1)} %`);

/** Left-aligned columns padded to their widest cell; `rightAligned` columns are padded on the left. */
export function table(rows: string[][], rightAligned: ReadonlySet<number>): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd(),
  );
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}
