// Progress output: one Logger shape for every module. The CLI's logger writes to stderr, so that
// stdout stays clean for machine-readable output (`verify --json`, `runs --json`); tests pass a
// collector or silentLogger.
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {} };

const started = Date.now();

function stamp(): string {
  return `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
}

/** Lines on stderr, stamped with the seconds since the process started. */
export const log: Logger = {
  info(message: string): void {
    process.stderr.write(`${stamp()} ${message}\n`);
  },
  warn(message: string): void {
    process.stderr.write(`${stamp()} warning: ${message}\n`);
  },
};

/**
 * Runs `work` while printing what it waits for: a start line, a reminder every `everyMs` with the
 * elapsed time, and an end line with the total. Returns what `work` returns.
 */
export async function waitingFor<T>(what: string, work: () => Promise<T>, everyMs = 5000): Promise<T> {
  const t0 = Date.now();
  log.info(`${what} ...`);
  const timer = setInterval(() => log.info(`  still ${what} (${((Date.now() - t0) / 1000).toFixed(0)}s)`), everyMs);
  timer.unref();
  try {
    const result = await work();
    log.info(`${what}: done in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    return result;
  } finally {
    clearInterval(timer);
  }
}
