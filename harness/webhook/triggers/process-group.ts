// Every child of the local trigger (git fetch, git worktree add, the bootstrap, the pipeline) runs in
// its own process group: a Ctrl-C in the receiver's terminal reaches only the receiver, which
// decides; stopping a run stops everything it started; and after a crash of the receiver the
// group named in run.pid tells the next receiver what is still running.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync, writeSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../paths.ts";

/**
 * Linux: whether a process other than a zombie is in group `pgid` (read from /proc); undefined
 * when /proc cannot be read. A child that exited after its parent is a zombie until init reaps it,
 * which some container inits do only now and then; such a group is gone for our purposes.
 */
function liveMembersOnLinux(pgid: number): boolean | undefined {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid pgrp ...: comm may contain spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") return true;
  }
  return false;
}

export function groupAlive(pid: number): boolean {
  // Never 0 or 1: kill(0)/kill(-1) address our own process group / every process.
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    process.kill(-pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return (process.platform === "linux" ? liveMembersOnLinux(pid) : undefined) ?? true;
}

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** SIGTERM to what is left of a group, SIGKILL after `graceMs`; resolves when the group is gone. */
export async function reapGroup(pid: number, graceMs: number): Promise<boolean> {
  if (!groupAlive(pid)) return false;
  killGroup(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(pid) && Date.now() < deadline) await sleep(50);
  if (groupAlive(pid)) {
    killGroup(pid, "SIGKILL");
    while (groupAlive(pid)) await sleep(20);
  }
  return true;
}

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
export function runInGroup(step: GroupStep, ctx: GroupContext): Promise<GroupResult> {
  return new Promise<GroupResult>((resolve) => {
    const child = spawn(step.program, [...step.args], {
      cwd: step.cwd,
      env: step.env,
      stdio: ["ignore", ctx.logFd, step.captureStderr ? "pipe" : ctx.logFd],
      detached: true,
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      try {
        writeSync(ctx.logFd, chunk);
      } catch {
        // the log is gone; the text is still kept
      }
      stderr = (stderr + chunk.toString("utf8")).slice(-STDERR_KEPT);
    });
    let killTimer: NodeJS.Timeout | undefined;
    let limitTimer: NodeJS.Timeout | undefined;
    let stoppedBy: "SIGTERM" | "SIGKILL" | undefined;
    let timedOut = false;
    let pidWritten: Promise<unknown> = Promise.resolve();
    let done = false;
    const stop = (why: string): void => {
      if (child.pid === undefined || stoppedBy !== undefined) return;
      const pid = child.pid;
      stoppedBy = "SIGTERM";
      ctx.log.warn(`stopping ${step.label} (process group ${pid}) with SIGTERM: ${why}`);
      killGroup(pid, "SIGTERM");
      killTimer = setTimeout(() => {
        stoppedBy = "SIGKILL";
        ctx.log.warn(`${step.label} still running; SIGKILL`);
        killGroup(pid, "SIGKILL");
      }, ctx.killGraceMs);
    };
    const onAbort = (): void => stop("the receiver is stopping the run");
    const finish = (result: Omit<GroupResult, "stderr" | "timedOut">): void => {
      if (done) return;
      done = true;
      clearTimeout(killTimer);
      clearTimeout(limitTimer);
      ctx.signal.removeEventListener("abort", onAbort);
      const pid = child.pid;
      void (async () => {
        // The leader has exited; what it left in its group (a stray child) must not outlive the
        // step, which may be followed by the removal of its working directory.
        if (pid !== undefined && (await reapGroup(pid, ctx.killGraceMs))) {
          ctx.log.info(`${step.label} left processes in its group ${pid}; stopped them`);
        }
        await pidWritten;
        await rm(ctx.pidFile, { force: true }).catch(() => undefined);
        resolve({ ...result, timedOut, stderr });
      })();
    };
    child.once("error", (err) => {
      finish({ code: null, signal: null, spawnError: err });
    });
    child.once("spawn", () => {
      const record = { pid: child.pid, ...ctx.pidRecord, step: step.label, startedAt: new Date().toISOString() };
      pidWritten = writeFile(ctx.pidFile, `${JSON.stringify(record)}\n`).catch((err) =>
        ctx.log.warn(`cannot write ${ctx.pidFile}: ${errorMessage(err)}`),
      );
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      if (ctx.signal.aborted) onAbort();
      if (step.timeoutMs !== undefined) {
        limitTimer = setTimeout(() => {
          timedOut = true;
          stop(`it took longer than ${Math.round(step.timeoutMs as number / 1000)} s`);
        }, step.timeoutMs);
      }
    });
    // 'close' comes once the output pipes are closed too; a process that daemonized out of the
    // group could hold stderr open, so 'exit' ends the step at the latest 2 s later.
    let closeWait: NodeJS.Timeout | undefined;
    const ended = (code: number | null, sig: NodeJS.Signals | null): void => {
      clearTimeout(closeWait);
      finish({ code, signal: sig, ...(stoppedBy !== undefined ? { stoppedBy } : {}) });
    };
    child.once("exit", (code, sig) => {
      // Whatever the leader left in its group goes now: it may hold the pipes 'close' waits for
      // (a failed local `git fetch` leaves its upload-pack behind for a moment).
      if (child.pid !== undefined && groupAlive(child.pid)) {
        ctx.log.info(`${step.label} left processes in its group ${child.pid}; stopping them`);
        void reapGroup(child.pid, ctx.killGraceMs);
      }
      closeWait = setTimeout(() => ended(code, sig), 2_000);
    });
    child.once("close", ended);
  });
}
