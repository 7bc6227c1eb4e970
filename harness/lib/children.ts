// This process's child processes (Linux /proc), so that an interrupted stage can stop the
// `docker compose` it started before tearing the stack down: otherwise compose, left running
// after we exit, may create containers after the teardown looked.
import { listProcesses } from "./proc.ts";
import { poll } from "./poll.ts";
import { killGroup } from "./process.ts";

/** Pids whose parent is `parent` (empty where /proc is missing). */
export function childPids(parent: number = process.pid): number[] {
  return (listProcesses() ?? []).filter((p) => p.ppid === parent).map((p) => p.pid);
}

function signalChild(pid: number, signal: NodeJS.Signals): void {
  // Children run in process groups of their own (harness/lib/process.ts): the group goes too.
  killGroup(pid, signal);
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** Signals every child and waits (up to `timeoutMs`) until none is left; then SIGKILLs the rest. */
export async function stopChildren(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 5000): Promise<number> {
  const first = childPids();
  for (const pid of first) signalChild(pid, signal);
  const remaining = (): number[] => childPids().filter((p) => first.includes(p));
  await poll(() => (remaining().length === 0 ? true : undefined), { timeoutMs, intervalMs: 100 });
  for (const pid of remaining()) signalChild(pid, "SIGKILL");
  return first.length;
}
