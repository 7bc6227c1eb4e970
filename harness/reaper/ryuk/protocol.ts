// Ryuk's wire and log formats: filter lines (URL queries of Docker filters) in, slog text lines out.
/** Docker filters as the API takes them: `{"label": {"a=b": true}}`. */
export type DockerFilters = Record<string, Record<string, true>>;

export type Log = (level: "DEBUG" | "INFO" | "WARN" | "ERROR", msg: string, attrs?: Record<string, unknown>) => void;

/**
 * One filter line (a URL query) as Docker filters, and its canonical key (sorted, so the same
 * filter in another order is the same filter). Null for a line that gives no filter.
 */
export function parseFilterLine(line: string): { key: string; filters: DockerFilters } | null {
  const params = new URLSearchParams(line);
  const filters: DockerFilters = {};
  for (const [type, value] of params) {
    if (type === "") continue;
    const values = filters[type] ?? {};
    values[value] = true;
    filters[type] = values;
  }
  const types = Object.keys(filters).sort();
  if (types.length === 0) return null;
  const key = JSON.stringify(types.map((t) => [t, Object.keys(filters[t] ?? {}).sort()]));
  return { key, filters };
}

/** slog's text format, so a person used to Ryuk's log reads ours the same way. */
export function slogLine(level: string, msg: string, attrs: Record<string, unknown> = {}): string {
  const quote = (v: unknown): string => {
    const s = typeof v === "string" ? v : JSON.stringify(v);
    return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
  };
  const parts = [`time=${new Date().toISOString()}`, `level=${level}`, `msg=${quote(msg)}`];
  for (const [k, v] of Object.entries(attrs)) parts.push(`${k}=${quote(v)}`);
  return parts.join(" ");
}
