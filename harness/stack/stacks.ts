// The stacks this tool started on the host, from Docker alone: containers carrying the owner
// labels (harness/stack/owner.ts), grouped by compose project. For `envoy-pipeline ls` and
// `teardown --stale`.
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import type Dockerode from "dockerode";
import { z } from "zod";
import { formatIssues, PipelineError } from "../lib/errors.ts";
import { PROJECT_LABEL, SERVICE_LABEL } from "./discover.ts";
import { OWNER_LABELS } from "./owner.ts";
import { pidAlive } from "../lib/process.ts";

export interface OwnedStack {
  project: string;
  /** When its oldest container was created. */
  created: Date;
  containers: number;
  running: number;
  checkout: string;
  buildTag: string;
  /** The owning process (lifetime "process"), else null. */
  pid: number | null;
  host: string;
  lifetime: string;
  /** Published URLs by name (listener, admin, prometheus, zipkin). */
  urls: Record<string, string>;
}

const containerListSchema = z.array(
  z.object({
    Id: z.string(),
    Created: z.number(),
    State: z.string(),
    Labels: z
      .record(z.string(), z.string())
      .nullable()
      .transform((l) => l ?? {}),
    Ports: z
      .array(
        z.object({ PrivatePort: z.number(), PublicPort: z.number().optional(), IP: z.string().optional(), Type: z.string().optional() }),
      )
      .nullable()
      .optional()
      .transform((p) => p ?? []),
  }),
);

/** Which published port is which URL. */
const URL_PORTS: Record<string, Record<number, { name: string; path: string }>> = {
  "front-envoy": { 8080: { name: "listener", path: "/service/1" }, 9901: { name: "admin", path: "/" } },
  prometheus: { 9090: { name: "prometheus", path: "/" } },
  zipkin: { 9411: { name: "zipkin", path: "/zipkin/" } },
};

export async function ownedStacks(docker: Dockerode): Promise<OwnedStack[]> {
  const parsed = containerListSchema.safeParse(
    await docker.listContainers({ all: true, filters: { label: [OWNER_LABELS.checkout, PROJECT_LABEL] } }),
  );
  if (!parsed.success) throw new Error(`docker ps: unexpected answer: ${formatIssues(parsed.error)}`);
  const stacks = new Map<string, OwnedStack>();
  for (const c of parsed.data) {
    const project = c.Labels[PROJECT_LABEL];
    const checkout = c.Labels[OWNER_LABELS.checkout] ?? "";
    // Plain `docker compose up` of our file leaves the labels empty: not started by this tool.
    if (project === undefined || checkout === "") continue;
    const created = new Date(c.Created * 1000);
    let s = stacks.get(project);
    if (!s) {
      const pid = Number(c.Labels[OWNER_LABELS.pid] ?? "");
      s = {
        project,
        created,
        containers: 0,
        running: 0,
        checkout,
        buildTag: c.Labels[OWNER_LABELS.buildTag] ?? "",
        pid: Number.isInteger(pid) && pid > 0 ? pid : null,
        host: c.Labels[OWNER_LABELS.host] ?? "",
        lifetime: c.Labels[OWNER_LABELS.lifetime] ?? "",
        urls: {},
      };
      stacks.set(project, s);
    }
    if (created < s.created) s.created = created;
    s.containers++;
    if (c.State === "running") s.running++;
    const ports = URL_PORTS[c.Labels[SERVICE_LABEL] ?? ""] ?? {};
    for (const p of c.Ports) {
      const known = ports[p.PrivatePort];
      if (!known || p.PublicPort === undefined || (p.IP ?? "").includes(":")) continue;
      const ip = p.IP === undefined || p.IP === "" || p.IP === "0.0.0.0" ? "127.0.0.1" : p.IP;
      s.urls[known.name] = `http://${ip}:${p.PublicPort}${known.path}`;
    }
  }
  return [...stacks.values()].sort((a, b) => a.created.getTime() - b.created.getTime());
}

/** "2h", "30m", "90s", "1d", "1h30m" in milliseconds; NaN when it is none of those. */
export function parseAge(text: string): number {
  const t = text.trim();
  if (!/^(\d+(d|h|m|s))+$/.test(t)) return Number.NaN;
  const unit: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };
  let ms = 0;
  for (const m of t.matchAll(/(\d+)(d|h|m|s)/g)) ms += Number(m[1]) * (unit[m[2] ?? "s"] ?? 0);
  return ms;
}

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)}h`;
  return `${(s / 86_400).toFixed(1)}d`;
}

export interface StaleProbe {
  now: number;
  host: string;
  pidAlive: (pid: number) => boolean;
  folderExists: (path: string) => boolean;
}

const realProbe = (): StaleProbe => ({ now: Date.now(), host: hostname(), pidAlive, folderExists: existsSync });

/**
 * Why a stack is stale, or null when it is not: its owning process is gone (checked only on the
 * host that started it), its checkout folder is gone (same host), or it is older than `olderThanMs`.
 * A Jenkins stack (BUILD_TAG) has no process to check between its stages: age is what sweeps it.
 */
export function staleReason(s: OwnedStack, olderThanMs: number | null, probe: StaleProbe = realProbe()): string | null {
  if (s.host === probe.host) {
    if (s.pid !== null && !probe.pidAlive(s.pid)) return `owner process ${s.pid} is gone`;
    if (s.buildTag === "" && !probe.folderExists(s.checkout)) return `checkout ${s.checkout} is gone`;
  }
  const age = probe.now - s.created.getTime();
  if (olderThanMs !== null && age > olderThanMs) return `older than ${formatAge(olderThanMs)} (${formatAge(age)})`;
  return null;
}

export function formatStacks(stacks: readonly OwnedStack[], now: number = Date.now(), thisHost: string = hostname()): string {
  if (stacks.length === 0) return "no stacks started by envoy-pipeline on this Docker host\n";
  const rows = stacks.map((s) => [
    s.project,
    formatAge(now - s.created.getTime()),
    `${s.running === s.containers ? "running" : s.running === 0 ? "stopped" : "partial"} ${s.running}/${s.containers}`,
    [
      s.buildTag !== "" ? `BUILD_TAG=${s.buildTag}` : s.checkout,
      s.pid !== null ? ` pid ${s.pid}` : "",
      s.host !== "" && s.host !== thisHost ? `@${s.host}` : "",
      ` (${s.lifetime || "?"})`,
    ].join(""),
    ["listener", "admin", "prometheus", "zipkin"].flatMap((n) => (s.urls[n] ? [s.urls[n]] : [])).join(" "),
  ]);
  const head = ["PROJECT", "AGE", "STATE", "OWNER", "URLS"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ");
  return `${[head, ...rows].map(line).join("\n")}\n`;
}

/** A stage found no stack to act on: one line naming the project, exit 1. */
export class StackMissingError extends PipelineError {
  override name = "StackMissingError";
}

/** Whether compose project `project` has any container, running or not. */
export async function stackExists(docker: Dockerode, project: string): Promise<boolean> {
  return (await docker.listContainers({ all: true, filters: { label: [`${PROJECT_LABEL}=${project}`] } })).length > 0;
}

/** For scale and verify: the stack must be there (`where`: "this Docker host", or the swarm). */
export async function requireStack(
  exists: () => Promise<boolean>,
  project: string,
  stage: string,
  where = "this Docker host",
): Promise<void> {
  if (!(await exists())) {
    const projectFlag = project.startsWith("envoy-pipeline-") ? "" : ` --project ${project}`;
    throw new StackMissingError(
      `${stage}: no stack '${project}' on ${where} (deploy it first: envoy-pipeline deploy${projectFlag}; see envoy-pipeline ls)`,
    );
  }
}
