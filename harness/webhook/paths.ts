// Where the receiver keeps its files: under its state directory.
import { join, resolve } from "node:path";

/** The default state directory, relative to the current folder (gitignored). */
export const DEFAULT_STATE_DIR = ".envoy-pipeline";

/** Files of the webhook receiver inside `--state-dir` (kept in a `webhook/` subfolder). */
export interface StatePaths {
  /** `<state-dir>/webhook` */
  readonly dir: string;
  /** The append-only delivery log (JSON Lines, fsynced per record). */
  readonly log: string;
  /** Settled deliveries moved out of the log by compaction (final views, redeliveries). */
  readonly history: string;
  /** `<id> <outcome>` of each delivery in `history`: what start-up reads of it. */
  readonly historyIndex: string;
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
    history: join(dir, "history.jsonl"),
    historyIndex: join(dir, "history.index"),
    lock: join(dir, "receiver.lock"),
    runLogs: join(dir, "logs"),
    runPid: join(dir, "run.pid"),
    worktrees: join(dir, "worktrees"),
    reports: join(dir, "reports"),
  };
}
