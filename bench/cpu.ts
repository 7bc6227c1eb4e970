// CPU accounting for the benchmarks: how many cores each container of a compose project used over a
// window, from the Docker engine's own counters (cgroup CPU usage, reported by the stats API, so
// cgroup v1 and v2 hosts and remote engines alike), plus, when the engine runs on this machine, the
// engine's processes (dockerd, containerd and the shims), which pay for health-check execs and for
// copying every log line, and the machine as a whole (/proc/stat).
//
//   const before = await cpuSnapshot(docker, project);  ...  const after = await cpuSnapshot(docker, project);
//   cpuDelta(before, after) → cores per container, per engine process group, and for the machine.
import { readdirSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import type Dockerode from "dockerode";
import { z } from "zod";
import { PROJECT_LABEL, SERVICE_LABEL, NUMBER_LABEL } from "../harness/stack/discover.ts";

const statsSchema = z.object({
  cpu_stats: z.object({ cpu_usage: z.object({ total_usage: z.number() }) }),
});

const pidSchema = z.object({ State: z.object({ Pid: z.number().int() }) });

export interface CpuSnapshot {
  at: number;
  /** Nanoseconds of CPU per container (`service-n`). */
  containers: Map<string, number>;
  /** Clock ticks per engine process group (dockerd, containerd, shims); empty for a remote engine. */
  engine: Map<string, number>;
  /** Busy and total jiffies of the whole machine (/proc/stat), when readable. */
  machine: { busy: number; total: number } | undefined;
}

const CLK_TCK = 100;

function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/**
 * User+system ticks of each engine process on this machine, grouped by name. Shims are counted
 * only for `ownPids` (the parents of this stack's containers): other stacks on the engine have
 * their own. dockerd and containerd serve every stack, so theirs is the whole engine's.
 */
function engineTicks(containerPids: readonly number[]): Map<string, number> {
  const shims = new Set(
    containerPids
      .map(parentPid)
      .filter((p): p is number => p !== undefined)
      .map(String),
  );
  const out = new Map<string, number>();
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const name = /\(([^)]*)\)/.exec(stat)?.[1] ?? "";
      const group = name.startsWith("containerd-shim") ? "containerd-shim (this stack)" : `${name} (whole engine)`;
      if (group.startsWith("containerd-shim") ? !shims.has(pid) : !["dockerd", "containerd", "docker-proxy"].includes(name)) continue;
      // Fields after the ")" : state is field 3; utime and stime are fields 14 and 15.
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime, stime and the waited-for children's (runc, which the shims start for every exec).
      const ticks = Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]);
      out.set(group, (out.get(group) ?? 0) + ticks);
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return out;
}

function machineJiffies(): CpuSnapshot["machine"] {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

export async function cpuSnapshot(docker: Dockerode, project: string): Promise<CpuSnapshot> {
  const list = await docker.listContainers({ filters: { label: [`${PROJECT_LABEL}=${project}`], status: ["running"] } });
  const containers = new Map<string, number>();
  const pids: number[] = [];
  await Promise.all(
    list.map(async (c) => {
      const name = `${c.Labels[SERVICE_LABEL] ?? c.Id.slice(0, 12)}-${c.Labels[NUMBER_LABEL] ?? "?"}`;
      pids.push(pidSchema.parse(await docker.getContainer(c.Id).inspect()).State.Pid);
      // one-shot: the engine's current counters without waiting a second for a second sample.
      const raw: unknown = await docker.getContainer(c.Id).stats({ stream: false, "one-shot": true } as { stream: false });
      containers.set(name, statsSchema.parse(raw).cpu_stats.cpu_usage.total_usage);
    }),
  );
  return { at: performance.now(), containers, engine: engineTicks(pids), machine: machineJiffies() };
}

export interface CpuUsage {
  seconds: number;
  /** Cores used per container, sorted by name. */
  containers: Array<{ name: string; cores: number }>;
  /** Cores used by the engine's processes on this machine, per group. */
  engine: Array<{ name: string; cores: number }>;
  /** Cores busy on the whole machine (every process, also other users'), when readable. */
  machineCores: number | undefined;
}

export function cpuDelta(a: CpuSnapshot, b: CpuSnapshot): CpuUsage {
  const seconds = (b.at - a.at) / 1000;
  const containers = [...b.containers]
    .filter(([name]) => a.containers.has(name))
    .map(([name, ns]) => ({ name, cores: (ns - (a.containers.get(name) ?? 0)) / 1e9 / seconds }))
    .sort((x, y) => x.name.localeCompare(y.name, "en", { numeric: true }));
  const engine = [...b.engine].map(([name, t]) => ({ name, cores: (t - (a.engine.get(name) ?? 0)) / CLK_TCK / seconds }));
  let machineCores: number | undefined;
  if (a.machine && b.machine) {
    const cores = (b.machine.total - a.machine.total) / CLK_TCK / seconds;
    machineCores = cores > 0 ? ((b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)) * cores : undefined;
  }
  return { seconds, containers, engine, machineCores };
}

/** Sum of the cores of the containers whose compose service matches. */
export function coresOf(usage: CpuUsage, service: RegExp): number {
  return usage.containers.filter((c) => service.test(c.name.replace(/-\d+$/, ""))).reduce((s, c) => s + c.cores, 0);
}

/** A few lines: every container, the engine groups, and the machine. */
export function formatUsage(usage: CpuUsage): string {
  const rows = [
    ...usage.containers.map((c) => `  ${c.name.padEnd(22)} ${c.cores.toFixed(3)} cores`),
    ...usage.engine.map((c) => `  ${c.name.padEnd(22)} ${c.cores.toFixed(3)} cores`),
  ];
  if (usage.machineCores !== undefined) rows.push(`  ${"(machine, all users)".padEnd(22)} ${usage.machineCores.toFixed(3)} cores`);
  return rows.join("\n");
}
