// Waiting until Envoy's view of an upstream cluster is exactly the set of running replicas and
// every one of them passes Envoy's active health check: the moment traffic reaches them all.
import { get as httpGet } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { EnvoyAdmin, type UpstreamCluster } from "../envoy/admin.ts";
import type { ReplicaContainer } from "./discover.ts";

export interface ClusterMismatch {
  cluster: string;
  /** Replica addresses Envoy does not know yet. */
  missing: string[];
  /** Addresses Envoy still routes to that are no running replica. */
  extra: string[];
  /** Known to Envoy but not (yet) healthy, with the health flags. */
  unhealthy: string[];
}

/** Compares Envoy's hosts of one cluster with the running replicas; null when they agree. */
export function compareCluster(cluster: UpstreamCluster, replicas: readonly ReplicaContainer[]): ClusterMismatch | null {
  const want = new Set(replicas.map((r) => r.ip));
  const have = new Set(cluster.hosts.map((h) => h.ip));
  const missing = [...want].filter((ip) => !have.has(ip)).map((ip) => `${ip} (${replicas.find((r) => r.ip === ip)?.name})`);
  const extra = [...have].filter((ip) => !want.has(ip));
  const unhealthy = cluster.hosts.filter((h) => want.has(h.ip) && !h.healthy).map((h) => `${h.ip} [${h.healthFlags.join(",")}]`);
  if (missing.length === 0 && extra.length === 0 && unhealthy.length === 0) return null;
  return { cluster: cluster.name, missing, extra, unhealthy };
}

export function describeMismatch(m: ClusterMismatch): string {
  const parts: string[] = [];
  if (m.missing.length > 0) parts.push(`not yet known to Envoy: ${m.missing.join(", ")}`);
  if (m.extra.length > 0) parts.push(`Envoy still lists: ${m.extra.join(", ")}`);
  if (m.unhealthy.length > 0) parts.push(`not healthy yet: ${m.unhealthy.join(", ")}`);
  return `cluster ${m.cluster}: ${parts.join("; ")}`;
}

export class ConvergenceTimeout extends Error {
  override name = "ConvergenceTimeout";
}

/**
 * Polls Envoy's /clusters until every named cluster holds exactly its replicas, all healthy.
 * `replicasOf` is asked again on every round, since containers may still be starting.
 * Resolves with the seconds it took; rejects after `timeoutMs` naming what still differs.
 */
export async function waitForClusters(
  admin: EnvoyAdmin,
  clusters: readonly { cluster: string; replicas: () => Promise<ReplicaContainer[]> }[],
  opts: { timeoutMs: number; intervalMs?: number; onProgress?: (pending: string) => void },
): Promise<number> {
  const t0 = Date.now();
  let lastReport = "";
  for (;;) {
    const pending: string[] = [];
    try {
      const all = await admin.clusters();
      for (const c of clusters) {
        const found = all.find((x) => x.name === c.cluster);
        // Envoy answered with its clusters (static ones all exist from the start): a missing one
        // is a configuration error, not something to wait for.
        if (!found) throw new ConvergenceTimeout(`Envoy has no cluster '${c.cluster}' (clusters: ${all.map((x) => x.name).join(", ")})`);
        const replicas = await c.replicas();
        if (replicas.length === 0) {
          pending.push(`cluster ${c.cluster}: no running replica`);
          continue;
        }
        const mismatch = compareCluster(found, replicas);
        if (mismatch) pending.push(describeMismatch(mismatch));
      }
    } catch (err) {
      if (err instanceof ConvergenceTimeout) throw err;
      pending.push((err as Error).message);
    }
    if (pending.length === 0) return (Date.now() - t0) / 1000;
    const report = pending.join(" | ");
    if (report !== lastReport) opts.onProgress?.(report);
    lastReport = report;
    if (Date.now() - t0 > opts.timeoutMs) {
      throw new ConvergenceTimeout(`Envoy did not converge within ${(opts.timeoutMs / 1000).toFixed(0)}s: ${report}`);
    }
    await sleep(opts.intervalMs ?? 250);
  }
}

/** One request on a fresh connection (so that successive ones land on different Envoy workers). */
function probeOnce(url: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = httpGet(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        const parsed = hostnameSchema.safeParse(safeJson(body));
        resolve(res.statusCode === 200 && parsed.success ? parsed.data.hostname : undefined);
      });
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}

const hostnameSchema = z.object({ hostname: z.string() });

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * After Envoy's admin view agrees, waits until requests through the listener actually reach every
 * replica: Envoy's workers take host updates from the main thread a moment later, and a stage that
 * returned before that would hand the next one a stack where a worker skips a new replica.
 * Resolves with the seconds it took; rejects naming the replicas that never answered.
 */
export async function waitForTraffic(
  listenerUrl: string,
  path: string,
  replicas: readonly ReplicaContainer[],
  opts: { timeoutMs: number; onProgress?: (pending: string) => void },
): Promise<number> {
  const t0 = Date.now();
  const want = new Set(replicas.map((r) => r.hostname));
  const seen = new Set<string>();
  while (Date.now() - t0 <= opts.timeoutMs) {
    // A round of 4 requests per replica, one connection each: a few rounds reach every worker.
    const round = await Promise.all(Array.from({ length: 4 * want.size }, () => probeOnce(`${listenerUrl}${path}`, 2000)));
    for (const hostname of round) if (hostname && want.has(hostname)) seen.add(hostname);
    if (seen.size === want.size) return (Date.now() - t0) / 1000;
    opts.onProgress?.(`${path}: no answer yet from ${replicas.filter((r) => !seen.has(r.hostname)).map((r) => r.name).join(", ")}`);
    await sleep(100);
  }
  const missing = replicas.filter((r) => !seen.has(r.hostname)).map((r) => `${r.name} (${r.hostname})`);
  throw new ConvergenceTimeout(`no request through Envoy reached ${missing.join(", ")} within ${(opts.timeoutMs / 1000).toFixed(0)}s`);
}
