// Where things live: the repository root (for the local trigger's default command) and the files
// the receiver keeps under its state directory.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: the folder above harness/. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The default state directory, relative to the current folder (gitignored). */
export const DEFAULT_STATE_DIR = ".envoy-pipeline";

/** Files of the webhook receiver inside `--state-dir` (kept in a `webhook/` subfolder). */
export interface StatePaths {
  /** `<state-dir>/webhook` */
  readonly dir: string;
  /** The append-only delivery log (JSON Lines, fsynced per record). */
  readonly log: string;
  /** Held by the one receiver that owns the state directory. */
  readonly lock: string;
  /** Per-run output of the local trigger. */
  readonly runLogs: string;
  /** The process group of the local pipeline currently running (removed when it exits). */
  readonly runPid: string;
  /** The local trigger's throwaway git worktrees, one per run (removed after it). */
  readonly worktrees: string;
  /** The local trigger's report folders, one per run (they outlive the worktree). */
  readonly reports: string;
}

export function statePaths(stateDir: string): StatePaths {
  const dir = join(resolve(stateDir), "webhook");
  return {
    dir,
    log: join(dir, "deliveries.jsonl"),
    lock: join(dir, "receiver.lock"),
    runLogs: join(dir, "logs"),
    runPid: join(dir, "run.pid"),
    worktrees: join(dir, "worktrees"),
    reports: join(dir, "reports"),
  };
}

/** Progress output; the CLI passes harness/log.ts, tests pass a collector. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {} };
