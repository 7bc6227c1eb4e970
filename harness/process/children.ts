// This process's child processes (Linux /proc), so that an interrupted stage can stop the
// `docker compose` it started before tearing the stack down: otherwise compose, left running
// after we exit, may create containers after the teardown looked.
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** Pids whose parent is `parent`, read from /proc/<pid>/stat (empty where /proc is missing). */
export function childPids(parent: number = process.pid): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 is the parent pid; field 2, the command, is in parentheses and may hold spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** Signals every child and waits (up to `timeoutMs`) until none is left; then SIGKILLs the rest. */
export async function stopChildren(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 5000): Promise<number> {
  const first = childPids();
  for (const pid of first) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (childPids().some((pid) => first.includes(pid)) && Date.now() < deadline) await sleep(100);
  for (const pid of childPids().filter((p) => first.includes(p))) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  return first.length;
}
