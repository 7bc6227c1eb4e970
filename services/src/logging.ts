// Structured logs: one JSON object per line on stdout, `time`, `level` and `msg` first, then the
// caller's fields. Access-log lines carry method, path, status, duration_ms, request_id and trace_id.
import type { LogLevel } from "./config.js";

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  enabled(level: LogLevel): boolean;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  level?: LogLevel;
  /** Where each line (ending in "\n") goes; stdout by default. Tests pass a collector. */
  write?: (line: string) => void;
  now?: () => Date;
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    const cause = value.cause instanceof Error ? value.cause.message : undefined;
    return { name: value.name, message: value.message, ...(code !== undefined && { code }), ...(cause && { cause }) };
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}

/**
 * Stdout in batches: lines collected for up to `flushMs` (or `maxBytes`) go out in one write.
 * Written line by line, the access log was a quarter of the service's CPU under load: stdout is a
 * pipe to the container runtime, written synchronously, and every write wakes the runtime's
 * reader (docs/performance.md). Every line is kept, in order, at most `flushMs` late; warnings and
 * errors go out at once, and the last lines on exit (process.stdout to a pipe or file is
 * synchronous, so a write in the "exit" handler completes).
 */
class StdoutBatch {
  private pending: string[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly flushMs = 50,
    private readonly maxBytes = 64 * 1024,
  ) {
    process.on("exit", () => this.flush());
  }

  write(line: string): void {
    this.pending.push(line);
    this.bytes += line.length;
    if (this.bytes >= this.maxBytes) this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      // Pending lines must not keep the process alive; exit flushes them.
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const chunk = this.pending.join("");
    this.pending = [];
    this.bytes = 0;
    process.stdout.write(chunk);
  }
}

/** One batch for the process, shared by every logger writing to stdout. */
let stdoutBatch: StdoutBatch | undefined;

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = RANK[options.level ?? "info"];
  if (!options.write) stdoutBatch ??= new StdoutBatch();
  const batch = options.write ? undefined : stdoutBatch;
  const write = options.write ?? ((line: string) => batch?.write(line));
  const now = options.now ?? (() => new Date());
  const log = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (RANK[level] < threshold) return;
    let line: string;
    try {
      line = JSON.stringify({ time: now().toISOString(), level, msg, ...fields }, replacer);
    } catch (err) {
      // A field that cannot be serialised (a cycle) must not lose the line.
      line = JSON.stringify({ time: now().toISOString(), level, msg, log_error: String(err) });
    }
    write(`${line}\n`);
    if (RANK[level] >= RANK.warn) batch?.flush();
  };
  return {
    debug: (msg, fields) => log("debug", msg, fields),
    info: (msg, fields) => log("info", msg, fields),
    warn: (msg, fields) => log("warn", msg, fields),
    error: (msg, fields) => log("error", msg, fields),
    enabled: (level) => RANK[level] >= threshold,
  };
}

/** A logger that drops everything (the default for in-process tests that do not look at logs). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  enabled: () => false,
};
