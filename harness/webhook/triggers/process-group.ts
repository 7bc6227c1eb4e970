// Every child of the local trigger (git fetch, git worktree add, the bootstrap, the pipeline) runs in its
// own process group.
// Design notes: docs/webhook.md ("webhook/triggers/process-group.ts").
import { writeSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { errorMessage } from "../../lib/errors.ts";
import type { Logger } from "../../lib/log.ts";
import { runProcess } from "../../lib/process.ts";

export interface GroupStep {
  /** What the step is, for messages ("git fetch", "bootstrap", "pipeline"). */
  readonly label: string;
  readonly program: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Besides copying stderr to the log, keep its text (to report git's error). */
  readonly captureStderr?: boolean;
  /** Stop the step (as on abort) when it takes longer; default: no limit. */
  readonly timeoutMs?: number;
}

export interface GroupContext {
  /** The run log: stdout and stderr go there. */
  readonly logFd: number;
  readonly signal: AbortSignal;
  /** After SIGTERM, how long the group may take before SIGKILL. */
  readonly killGraceMs: number;
  /** Names the running group, for recovery after a crash; removed when the step ends. */
  readonly pidFile: string;
  /** Written to the pid file with the pid. */
  readonly pidRecord: Readonly<Record<string, unknown>>;
  readonly log: Logger;
}

export interface GroupResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the receiver stopped the step (abort or timeout): the last signal it sent. */
  readonly stoppedBy?: "SIGTERM" | "SIGKILL";
  readonly timedOut: boolean;
  /** The program could not be started (ENOENT, EACCES, ...). */
  readonly spawnError?: Error;
  /** The end of stderr, when `captureStderr` (at most 16 KiB). */
  readonly stderr: string;
}

const STDERR_KEPT = 16 * 1024;

/**
 * Runs one step in a new process group with its output in the run log. Resolves (never rejects)
 * once the step's process has exited and whatever it left running in its group is gone.
 */
export async function runInGroup(step: GroupStep, ctx: GroupContext): Promise<GroupResult> {
  let pidWritten: Promise<unknown> = Promise.resolve();
  const r = await runProcess(step.program, step.args, {
    cwd: step.cwd,
    env: step.env,
    stdout: ctx.logFd,
    stderr: step.captureStderr ? "pipe" : ctx.logFd,
    maxOutput: STDERR_KEPT,
    onData: (chunk) => {
      try {
        writeSync(ctx.logFd, chunk);
      } catch {
        // the log is gone; the text is still kept
      }
    },
    onSpawn: (pid) => {
      const record = { pid, ...ctx.pidRecord, step: step.label, startedAt: new Date().toISOString() };
      pidWritten = writeFile(ctx.pidFile, `${JSON.stringify(record)}\n`).catch((err) =>
        ctx.log.warn(`cannot write ${ctx.pidFile}: ${errorMessage(err)}`),
      );
    },
    signal: ctx.signal,
    ...(step.timeoutMs !== undefined ? { timeoutMs: step.timeoutMs } : {}),
    killGraceMs: ctx.killGraceMs,
    onStop: (signal, why) =>
      signal === "SIGTERM"
        ? ctx.log.warn(`stopping ${step.label} with SIGTERM: ${why === "aborted" ? "the receiver is stopping the run" : why}`)
        : ctx.log.warn(`${step.label} still running; SIGKILL`),
  });
  if (r.strays) ctx.log.info(`${step.label} left processes in its process group; stopped them`);
  await pidWritten;
  await rm(ctx.pidFile, { force: true }).catch(() => undefined);
  return {
    code: r.code,
    signal: r.signal,
    ...(r.stoppedBy !== undefined ? { stoppedBy: r.stoppedBy } : {}),
    timedOut: r.timedOut,
    ...(r.spawnError !== undefined ? { spawnError: r.spawnError } : {}),
    stderr: step.captureStderr ? r.stderr : "",
  };
}
