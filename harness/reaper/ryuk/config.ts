// The reaper's settings: moby-ryuk's RYUK_* variables and defaults, durations in Go's syntax.
export interface ReaperConfig {
  connectionTimeoutMs: number;
  reconnectionTimeoutMs: number;
  requestTimeoutMs: number;
  removeRetries: number;
  retryOffsetMs: number;
  changesRetryIntervalMs: number;
  shutdownTimeoutMs: number;
  port: number;
  verbose: boolean;
}

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration ("10s", "1m30s", "500ms", "-1s", "0") in milliseconds; NaN when invalid. */
export function parseGoDuration(text: string): number {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(text.trim());
  if (text.trim() === "0") return 0;
  if (!m) return Number.NaN;
  let total = 0;
  for (const part of text
    .trim()
    .replace(/^[-+]/, "")
    .matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(part[1]) * (UNITS[part[2] ?? "s"] ?? Number.NaN);
  }
  return m[1] === "-" ? -total : total;
}

/** The configuration from RYUK_* variables, with moby-ryuk's defaults. Throws naming a bad variable. */
export function reaperConfig(env: NodeJS.ProcessEnv = process.env): ReaperConfig {
  const duration = (name: string, fallback: string): number => {
    const raw = env[name] ?? fallback;
    const ms = parseGoDuration(raw === "" ? fallback : raw);
    if (Number.isNaN(ms)) throw new Error(`${name}: '${raw}' is not a duration (like 10s, 1m30s, 500ms)`);
    return ms;
  };
  const integer = (name: string, fallback: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) > max) throw new Error(`${name}: '${raw}' is not a whole number up to ${max}`);
    return Number(raw);
  };
  return {
    connectionTimeoutMs: duration("RYUK_CONNECTION_TIMEOUT", "60s"),
    reconnectionTimeoutMs: duration("RYUK_RECONNECTION_TIMEOUT", "10s"),
    requestTimeoutMs: duration("RYUK_REQUEST_TIMEOUT", "10s"),
    removeRetries: integer("RYUK_REMOVE_RETRIES", 10, 1000),
    retryOffsetMs: duration("RYUK_RETRY_OFFSET", "-1s"),
    changesRetryIntervalMs: duration("RYUK_CHANGES_RETRY_INTERVAL", "1s"),
    shutdownTimeoutMs: duration("RYUK_SHUTDOWN_TIMEOUT", "10m"),
    port: integer("RYUK_PORT", 8080, 65535),
    verbose: /^(1|t|true)$/i.test(env.RYUK_VERBOSE ?? ""),
  };
}
