// Linux's /proc: which processes exist, their state, parent and process group. Used to find our
// children (to stop them on Ctrl-C) and to tell whether a process group still has live members.
import { readdirSync, readFileSync } from "node:fs";

export interface ProcStat {
  pid: number;
  /** R, S, D, Z (zombie), X (dead), T, ... */
  state: string;
  ppid: number;
  pgrp: number;
}

/** /proc/<pid>/stat, or undefined when the process is gone or /proc cannot be read. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { pid, state: fields[0] ?? "", ppid: Number(fields[1]), pgrp: Number(fields[2]) };
}

/** A zombie or dead entry: it has exited and only waits to be reaped. */
export function exited(stat: ProcStat): boolean {
  return stat.state === "Z" || stat.state === "X";
}

/** Every process's stat, or undefined where /proc cannot be listed (not Linux). */
export function listProcesses(): ProcStat[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return undefined;
  }
  const out: ProcStat[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat) out.push(stat); // else it exited meanwhile
  }
  return out;
}
