// The desired state of a service (how many replicas the scale map asks for) against what Docker runs.
// Design notes: docs/stacks.md ("stack/desired-state.ts").
import type Dockerode from "dockerode";
import {
  canServe,
  type ContainerInspect,
  containerName,
  NUMBER_LABEL,
  projectContainers,
  projectIp,
  type ReplicaContainer,
  toReplica,
} from "./discover.ts";

/** A desired replica's container that cannot serve, and why, in words a person can act on. */
export interface NotServing {
  container: string;
  hostname: string;
  why: string;
  /** The last lines of its log (stdout and stderr). */
  logTail: string[];
}

/** A container that carries the service's labels beyond the desired replica count. */
export interface ExtraContainer {
  container: string;
  hostname: string;
  ip: string | null;
  why: string;
}

export interface ServiceState {
  service: string;
  desired: number;
  /** Desired replicas that can serve (running, not paused, with an address). */
  serving: ReplicaContainer[];
  notServing: NotServing[];
  extras: ExtraContainer[];
  /** Desired replicas for which no container exists at all (removed, or never created). */
  absent: number;
}

/** Why a container cannot serve: "exited with code 137 (OOM-killed) at …", "paused", … */
export function whyNotServing(c: ContainerInspect, project: string): string {
  const s = c.State;
  if (s.Paused) return "paused (docker pause)";
  if (s.Restarting) return `restarting (last exit code ${s.ExitCode})`;
  if (s.Dead) return "dead (Docker could not stop or remove it)";
  if (!s.Running) {
    if (s.Status === "created") return "created but never started";
    const parts = [`exited with code ${s.ExitCode}`];
    if (s.OOMKilled) parts.push("OOM-killed");
    else if (s.ExitCode === 137) parts.push("killed (SIGKILL)");
    else if (s.ExitCode === 143) parts.push("stopped (SIGTERM)");
    if (s.Error) parts.push(s.Error);
    const at = s.FinishedAt && !s.FinishedAt.startsWith("0001") ? ` at ${s.FinishedAt.replace(/\.\d+Z$/, "Z")}` : "";
    return `${parts.join(", ")}${at}`;
  }
  if (projectIp(c, project) === null) return "running but not attached to the project's network";
  return "running";
}

/** The last health probe's output, when Docker's health check is failing. */
export function healthNote(c: ContainerInspect): string | undefined {
  const h = c.State.Health;
  if (!h || h.Status === "healthy") return undefined;
  const last = h.Log.at(-1);
  const output = last?.Output.trim().split("\n").at(-1) ?? "";
  return `Docker health: ${h.Status}${last ? ` (last probe exit ${last.ExitCode}${output ? `: ${output.slice(0, 160)}` : ""})` : ""}`;
}

/**
 * Splits a service's containers into the desired replicas that serve, those that do not, and the
 * extras. Compose numbers its replicas 1..N: containers numbered within the desired count come
 * first, so an extra is one numbered beyond it, or a second container with the same number.
 */
export function classifyService(service: string, desired: number, containers: readonly ContainerInspect[], project: string): ServiceState {
  const number = (c: ContainerInspect): number => Number(c.Config.Labels[NUMBER_LABEL] ?? "0") || Number.MAX_SAFE_INTEGER;
  const byAge = (a: ContainerInspect, b: ContainerInspect): number => a.Created.localeCompare(b.Created);
  const candidates = containers.filter((c) => canServe(c, project));
  const seen = new Set<number>();
  const rank = (c: ContainerInspect): number => (number(c) <= desired ? 0 : 1);
  const ordered = [...candidates].sort((a, b) => rank(a) - rank(b) || number(a) - number(b) || byAge(a, b));
  const serving: ReplicaContainer[] = [];
  const extras: ExtraContainer[] = [];
  for (const c of ordered) {
    const n = number(c);
    const duplicate = seen.has(n);
    seen.add(n);
    if (serving.length < desired && !duplicate) {
      serving.push(toReplica(c, project, service));
      continue;
    }
    const why = duplicate
      ? `a second container numbered ${n} of ${service}`
      : `${n === Number.MAX_SAFE_INTEGER ? "unnumbered" : `numbered ${n}`}, beyond the ${replicasOf(desired)} of ${service}`;
    extras.push({ container: containerName(c), hostname: c.Config.Hostname, ip: projectIp(c, project), why });
  }
  serving.sort((a, b) => a.number - b.number);
  const silent = containers.filter((c) => !canServe(c, project)).sort((a, b) => number(a) - number(b) || byAge(b, a));
  const missing = Math.max(0, desired - serving.length);
  const notServing = silent.slice(0, missing).map((c) => ({
    container: containerName(c),
    hostname: c.Config.Hostname,
    // A stopped container's health is whatever its last probe said before it stopped: not news.
    why: [whyNotServing(c, project), c.State.Running ? healthNote(c) : undefined].filter((x) => x !== undefined).join("; "),
    logTail: [],
  }));
  return { service, desired, serving, notServing, extras, absent: Math.max(0, missing - notServing.length) };
}

/** Decodes `docker logs` output: 8-byte frame headers (stream, size) unless the container has a TTY. */
export function demuxLogs(buf: Buffer): string {
  if (buf.length < 8 || buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0 || (buf[0] ?? 9) > 2) return buf.toString("utf8");
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= buf.length) {
    const size = buf.readUInt32BE(at + 4);
    parts.push(buf.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(parts).toString("utf8");
}

/**
 * The last `lines` lines of a log that `read` fetches with Docker's log options (a container's, or
 * a swarm task's through the manager); a log that cannot be read says why instead.
 */
export async function logTail(read: (opts: Record<string, unknown>) => Promise<unknown>, lines: number): Promise<string[]> {
  try {
    const raw = await read({ stdout: true, stderr: true, tail: lines, follow: false });
    const text = Buffer.isBuffer(raw) ? demuxLogs(raw) : String(raw);
    return text
      .split("\n")
      .map((l) => l.trimEnd())
      .filter((l) => l !== "")
      .slice(-lines);
  } catch (err) {
    return [`(no log: ${(err as Error).message.split("\n")[0]})`];
  }
}

/** The state of every service in `desired`, with the last log lines of each silent replica. */
export async function serviceStates(
  docker: Dockerode,
  project: string,
  desired: Record<string, number>,
  logLines = 5,
): Promise<ServiceState[]> {
  return Promise.all(
    Object.entries(desired).map(async ([service, count]) => {
      const state = classifyService(service, count, await projectContainers(docker, project, service), project);
      for (const n of state.notServing) n.logTail = await logTail((opts) => docker.getContainer(n.container).logs(opts), logLines);
      return state;
    }),
  );
}

/** "1 desired replica", "3 desired replicas". */
function replicasOf(desired: number): string {
  return `${desired} desired replica${desired === 1 ? "" : "s"}`;
}
