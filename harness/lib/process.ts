// Child processes, started one way.
// Design notes: docs/stacks.md ("lib/process.ts").
import { type ChildProcess, spawn } from "node:child_process";
import { exited, listProcesses } from "./proc.ts";
import { poll } from "./poll.ts";

/** Whether a process other than a zombie is in group `pgid`, judged from /proc (undefined without /proc). */
function liveMembers(pgid: number): boolean | undefined {
  const all = listProcesses();
  if (all === undefined) return undefined;
  // A child that exited after its parent is a zombie until init reaps it, which some container
  // inits do only now and then; such a group is gone for our purposes.
  return all.some((p) => p.pgrp === pgid && !exited(p));
}

/** Whether process `pid` exists (EPERM: it does, owned by another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether process group `pid` still has a live member. */
export function groupAlive(pid: number): boolean {
  // Never 0 or 1: kill(0)/kill(-1) address our own process group / every process.
  if (!Number.isInteger(pid) || pid <= 1) return false;
  try {
    process.kill(-pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return (process.platform === "linux" ? liveMembers(pid) : undefined) ?? true;
}

/** Sends `signal` to every process of group `pid` (nothing when it is gone). */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** How long a group gets after SIGKILL before we stop watching it (a process in D state). */
const AFTER_SIGKILL_MS = 10_000;

/**
 * SIGTERM to what is left of a group, SIGKILL after `graceMs` (at once when 0); resolves once the
 * group is gone, with whether anything was left to stop.
 */
export async function reapGroup(pid: number, graceMs: number): Promise<boolean> {
  if (!groupAlive(pid)) return false;
  const gone = (): true | undefined => (groupAlive(pid) ? undefined : true);
  if (graceMs > 0) {
    killGroup(pid, "SIGTERM");
    if (await poll(gone, { timeoutMs: graceMs, intervalMs: 50 })) return true;
  }
  killGroup(pid, "SIGKILL");
  await poll(gone, { timeoutMs: AFTER_SIGKILL_MS, intervalMs: 20 });
  return true;
}

/** After the group is gone, how long its output may take to come out of the pipes. */
const PIPE_DRAIN_MS = 2000;

/** Where a stream goes: kept ("pipe"), the harness's own, nowhere, or an open file descriptor. */
export type StreamTarget = "pipe" | "inherit" | "ignore" | number;

export interface ProcessOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is closed afterwards; without it stdin is empty. */
  input?: string | Buffer;
  /** Default "pipe" for both. */
  stdout?: StreamTarget;
  stderr?: StreamTarget;
  /** Keep at most this many characters of each piped stream (the tail); default 1 MiB. */
  maxOutput?: number;
  /** Every chunk of a piped stream as it arrives. */
  onData?: (chunk: Buffer, stream: "stdout" | "stderr") => void;
  /** Every complete line of a piped stream as it arrives (the last, unterminated one at the end). */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** Called once the process runs, with its pid (which is also its process group). */
  onSpawn?: (pid: number) => void;
  /** Stop the process group after this many milliseconds. */
  timeoutMs?: number;
  /** Stop the process group when this aborts. */
  signal?: AbortSignal;
  /** After SIGTERM, how long the group may take before SIGKILL; 0 sends SIGKILL at once. Default 5 s. */
  killGraceMs?: number;
  /**
   * Start the process in a group of its own (default). false keeps it in the harness's group, so
   * that a Ctrl-C in the terminal reaches it together with the harness (as `docker compose` run by
   * a stage expects); then only the process itself is signalled on timeout or abort.
   */
  ownGroup?: boolean;
  /** Told when the group is stopped (timeout or abort) and when SIGKILL follows. */
  onStop?: (signal: "SIGTERM" | "SIGKILL", why: string) => void;
}

export interface ProcessResult {
  /** Exit code; null when killed by a signal or never started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The tail of each piped stream ("" otherwise). */
  stdout: string;
  stderr: string;
  /** The process group was stopped because `timeoutMs` passed. */
  timedOut: boolean;
  /** Set when the runner stopped the group (timeout or abort): the last signal it sent. */
  stoppedBy?: "SIGTERM" | "SIGKILL";
  /** The program could not be started (ENOENT, EACCES, ...). */
  spawnError?: Error;
  /** The process left others running in its group after it exited; they were stopped. */
  strays: boolean;
}

/** Keeps the tail (`max` characters) of each piped stream and hands whole lines to `onLine`. */
function collectOutput(opts: ProcessOptions, max: number) {
  const kept = { stdout: "", stderr: "" };
  const partial = { stdout: "", stderr: "" };
  const feed = (stream: "stdout" | "stderr", chunk: Buffer): void => {
    opts.onData?.(chunk, stream);
    const text = chunk.toString("utf8");
    kept[stream] = (kept[stream] + text).slice(-max);
    if (!opts.onLine) return;
    const lines = (partial[stream] + text).split(/\r?\n/);
    partial[stream] = lines.pop() ?? "";
    for (const line of lines) opts.onLine(line, stream);
  };
  /** The unterminated last line of each stream, when the process is done. */
  const flush = (): void => {
    if (!opts.onLine) return;
    if (partial.stdout !== "") opts.onLine(partial.stdout, "stdout");
    if (partial.stderr !== "") opts.onLine(partial.stderr, "stderr");
  };
  return { kept, feed, flush };
}

/** Stops the child (its group when it leads one) with SIGTERM, then SIGKILL after `graceMs`. */
function stopper(child: ChildProcess, opts: ProcessOptions, ownGroup: boolean, graceMs: number) {
  const state: { stoppedBy?: "SIGTERM" | "SIGKILL"; killTimer?: NodeJS.Timeout } = {};
  const signal = (pid: number, sig: NodeJS.Signals): void => {
    if (ownGroup) killGroup(pid, sig);
    else child.kill(sig);
  };
  const stop = (why: string): void => {
    const pid = child.pid;
    if (pid === undefined || state.stoppedBy !== undefined) return;
    const hard = (): void => {
      state.stoppedBy = "SIGKILL";
      opts.onStop?.("SIGKILL", why);
      signal(pid, "SIGKILL");
    };
    if (graceMs === 0) {
      hard();
      return;
    }
    state.stoppedBy = "SIGTERM";
    opts.onStop?.("SIGTERM", why);
    signal(pid, "SIGTERM");
    state.killTimer = setTimeout(hard, graceMs);
  };
  return { state, stop, cancel: (): void => clearTimeout(state.killTimer) };
}

/**
 * After the leader exits: stops what it left in its group (it may hold the pipes `close` waits
 * for), then gives what is still in the pipes PIPE_DRAIN_MS before closing our ends, since a
 * process that left the group (setsid) could hold them for ever. Resolves with "strays left".
 */
function reapAfterExit(child: ChildProcess, ownGroup: boolean, graceMs: number, isDone: () => boolean) {
  const pid = child.pid;
  const reaping = pid === undefined || !ownGroup ? Promise.resolve(false) : reapGroup(pid, graceMs);
  let drainTimer: NodeJS.Timeout | undefined;
  void reaping.then(() => {
    if (isDone()) return;
    drainTimer = setTimeout(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
    }, PIPE_DRAIN_MS);
  });
  return { reaping, cancel: (): void => clearTimeout(drainTimer) };
}

/** Runs `program` to the end (see the top of this file). Never rejects: look at the result. */
export function runProcess(program: string, args: readonly string[], opts: ProcessOptions = {}): Promise<ProcessResult> {
  const graceMs = opts.killGraceMs ?? 5000;
  const ownGroup = opts.ownGroup ?? true;
  return new Promise((resolve) => {
    const child = spawn(program, [...args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? "ignore" : "pipe", opts.stdout ?? "pipe", opts.stderr ?? "pipe"],
      detached: ownGroup,
    });
    const output = collectOutput(opts, opts.maxOutput ?? 1 << 20);
    child.stdout?.on("data", (c: Buffer) => output.feed("stdout", c));
    child.stderr?.on("data", (c: Buffer) => output.feed("stderr", c));
    child.stdin?.on("error", () => undefined); // the program may exit without reading its input
    if (opts.input !== undefined) child.stdin?.end(opts.input);

    const stopping = stopper(child, opts, ownGroup, graceMs);
    let timedOut = false;
    const limit =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            stopping.stop(`it took longer than ${opts.timeoutMs} ms`);
          }, opts.timeoutMs);
    const onAbort = (): void => stopping.stop("aborted");
    child.once("spawn", () => {
      if (child.pid !== undefined) opts.onSpawn?.(child.pid);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      if (opts.signal?.aborted) onAbort();
    });

    let spawnError: Error | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let reaper: ReturnType<typeof reapAfterExit> | undefined;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      reaper?.cancel();
      clearTimeout(limit);
      stopping.cancel();
      opts.signal?.removeEventListener("abort", onAbort);
      void (reaper?.reaping ?? Promise.resolve(false)).then((strays) => {
        output.flush();
        const { stoppedBy } = stopping.state;
        resolve({
          code: exit?.code ?? null,
          signal: exit?.signal ?? null,
          stdout: output.kept.stdout,
          stderr: output.kept.stderr,
          timedOut,
          ...(stoppedBy !== undefined ? { stoppedBy } : {}),
          ...(spawnError !== undefined ? { spawnError } : {}),
          strays,
        });
      });
    };
    child.once("error", (err) => {
      // Only a failed start ends the run here: errors of a running child (a failed kill) are not final.
      if (child.pid !== undefined) return;
      spawnError = err;
      finish();
    });
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      clearTimeout(limit);
      stopping.cancel();
      reaper = reapAfterExit(child, ownGroup, graceMs, () => done);
    });
    child.once("close", () => finish());
  });
}
