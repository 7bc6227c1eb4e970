// Waiting until Envoy's view of an upstream cluster is exactly the set of running replicas and
// every one of them passes Envoy's active health check: the moment traffic reaches them all.
import { Agent } from "node:http";
import { z } from "zod";
import type { PipelineConfig } from "../config.ts";
import { EnvoyAdmin, type UpstreamCluster } from "../envoy/admin.ts";
import { errorMessage, PipelineError } from "../lib/errors.ts";
import { getJson } from "../lib/http.ts";
import { pollUntil } from "../lib/poll.ts";
import { log, waitingFor } from "../lib/log.ts";
import type { ReplicaContainer, StackEndpoints } from "./discover.ts";
import type { StackLocator } from "./locator.ts";
import { routeFor } from "./routes.ts";

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

export class ConvergenceTimeout extends PipelineError {
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
  const t0 = performance.now();
  let lastReport = "";
  await pollUntil(
    async () => {
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
        pending.push(errorMessage(err));
      }
      if (pending.length === 0) return true;
      const report = pending.join(" | ");
      if (report !== lastReport) opts.onProgress?.(report);
      lastReport = report;
      return undefined;
    },
    {
      timeoutMs: opts.timeoutMs,
      intervalMs: opts.intervalMs ?? 250,
      timeoutError: () => new ConvergenceTimeout(`Envoy did not converge within ${(opts.timeoutMs / 1000).toFixed(0)}s: ${lastReport}`),
    },
  );
  return (performance.now() - t0) / 1000;
}

/** Probes must not share a connection: each new one may land on another Envoy worker. */
const freshConnections = new Agent({ keepAlive: false });

/** One request on a fresh connection; the hostname of the replica that answered, if one did. */
async function probeOnce(url: string, timeoutMs: number): Promise<string | undefined> {
  try {
    return (await getJson(url, hostnameSchema, { timeoutMs, agent: freshConnections })).hostname;
  } catch {
    return undefined;
  }
}

const hostnameSchema = z.object({ hostname: z.string() });

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
  const t0 = performance.now();
  const want = new Set(replicas.map((r) => r.hostname));
  const seen = new Set<string>();
  const missing = (): ReplicaContainer[] => replicas.filter((r) => !seen.has(r.hostname));
  await pollUntil(
    async () => {
      // A round of 4 requests per replica, one connection each: a few rounds reach every worker.
      const round = await Promise.all(Array.from({ length: 4 * want.size }, () => probeOnce(`${listenerUrl}${path}`, 2000)));
      for (const hostname of round) if (hostname && want.has(hostname)) seen.add(hostname);
      if (seen.size === want.size) return true;
      opts.onProgress?.(
        `${path}: no answer yet from ${missing()
          .map((r) => r.name)
          .join(", ")}`,
      );
      return undefined;
    },
    {
      timeoutMs: opts.timeoutMs,
      intervalMs: 100,
      timeoutError: () => {
        const names = missing().map((r) => `${r.name} (${r.hostname})`);
        return new ConvergenceTimeout(`no request through Envoy reached ${names.join(", ")} within ${(opts.timeoutMs / 1000).toFixed(0)}s`);
      },
    },
  );
  return (performance.now() - t0) / 1000;
}

/**
 * Waits until Envoy routes each service to exactly its running replicas, all healthy, and until
 * requests through the listener have reached every one of them.
 */
export async function waitForEnvoy(
  ctx: { config: PipelineConfig; locator: StackLocator },
  endpoints: StackEndpoints,
  services: readonly string[],
): Promise<number> {
  const admin = new EnvoyAdmin(endpoints.adminUrl);
  const t0 = Date.now();
  const timeoutMs = ctx.config.waitTimeoutSeconds * 1000;
  const onProgress = (pending: string): void => log.info(`  waiting: ${pending}`);
  await waitingFor(`Envoy to route to every replica of ${services.join(", ")}`, async () => {
    await waitForClusters(
      admin,
      services.map((service) => ({
        cluster: routeFor(service).cluster,
        replicas: () => ctx.locator.replicas(service),
      })),
      { timeoutMs, onProgress },
    );
    for (const service of services) {
      const replicas = await ctx.locator.replicas(service);
      await waitForTraffic(endpoints.listenerUrl, routeFor(service).path, replicas, {
        timeoutMs: Math.max(5000, timeoutMs - (Date.now() - t0)),
        onProgress,
      });
    }
  });
  return (Date.now() - t0) / 1000;
}
