// What Envoy says about a cluster before and after the load: per-host counters (/clusters),
// cluster counters (retries, membership changes, health-check failures) and which worker threads
// accepted connections (/stats), so that the checks can compare the harness's view with Envoy's.
import type { EnvoyAdmin, UpstreamHost } from "../envoy/admin.ts";
import type { ReplicaInfo } from "./schema.ts";

export interface ClusterSnapshot {
  takenAt: number;
  /** Hosts by "ip:port" (an address Envoy lists twice is merged: weights and counters summed). */
  hosts: Map<string, UpstreamHost>;
  /** How many of Envoy's hosts share each "ip:port". */
  endpoints: Map<string, number>;
  upstreamRqTotal: number;
  upstreamRqRetry: number;
  upstreamRqRetryOverflow: number;
  membershipChange: number;
  healthCheckFailure: number;
  /** downstream_cx_total per worker index, summed over listeners. */
  workerConnections: Map<number, number>;
}

function escapeRe2(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function hostKey(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export async function snapshotCluster(admin: EnvoyAdmin, cluster: string): Promise<ClusterSnapshot> {
  const c = await admin.cluster(cluster);
  const prefix = `cluster.${cluster}.`;
  const filter = `^cluster\\.${escapeRe2(cluster)}\\.(upstream_rq_total|upstream_rq_retry|upstream_rq_retry_overflow|membership_change|health_check\\.failure)$|^listener\\..+\\.worker_[0-9]+\\.downstream_cx_total$`;
  const stats = await admin.stats(filter);
  const workerConnections = new Map<number, number>();
  for (const [name, value] of Object.entries(stats)) {
    const m = /\.worker_(\d+)\.downstream_cx_total$/.exec(name);
    if (m && name.startsWith("listener.")) {
      const k = Number(m[1]);
      workerConnections.set(k, (workerConnections.get(k) ?? 0) + value);
    }
  }
  // An address listed twice in a cluster is two hosts to Envoy (twice the picks): merged here
  // into one replica with the summed weight and counters.
  const hosts = new Map<string, UpstreamHost>();
  const endpoints = new Map<string, number>();
  for (const h of c.hosts) {
    const key = hostKey(h.ip, h.port);
    endpoints.set(key, (endpoints.get(key) ?? 0) + 1);
    const seen = hosts.get(key);
    if (!seen) {
      hosts.set(key, { ...h, stats: { ...h.stats }, healthFlags: [...h.healthFlags] });
      continue;
    }
    seen.weight += h.weight;
    seen.healthy &&= h.healthy;
    for (const f of h.healthFlags) if (!seen.healthFlags.includes(f)) seen.healthFlags.push(f);
    for (const [name, value] of Object.entries(h.stats)) seen.stats[name] = (seen.stats[name] ?? 0) + value;
  }
  return {
    takenAt: Date.now(),
    hosts,
    endpoints,
    upstreamRqTotal: stats[`${prefix}upstream_rq_total`] ?? 0,
    upstreamRqRetry: stats[`${prefix}upstream_rq_retry`] ?? 0,
    upstreamRqRetryOverflow: stats[`${prefix}upstream_rq_retry_overflow`] ?? 0,
    membershipChange: stats[`${prefix}membership_change`] ?? 0,
    healthCheckFailure: stats[`${prefix}health_check.failure`] ?? 0,
    workerConnections,
  };
}

export interface HostDelta {
  key: string;
  ip: string;
  port: number;
  /** Sum of the weights of Envoy's hosts at this address. */
  weight: number;
  /** How many of Envoy's hosts have this address (normally 1; an endpoint listed twice is 2). */
  endpoints: number;
  healthy: boolean;
  healthFlags: string[];
  /** Counter growth between the snapshots (rq_total, rq_error, cx_connect_fail, ...). */
  delta: Record<string, number>;
  /** The replica this Envoy host is, if any. */
  replica: ReplicaInfo | undefined;
}

export interface ClusterDelta {
  hosts: HostDelta[];
  upstreamRqTotal: number;
  retries: number;
  /** Retries Envoy wanted but its circuit breaker (max_retries) refused. */
  retryOverflows: number;
  membershipChanges: number;
  healthCheckFailures: number;
  /** Worker threads that accepted at least one new connection. */
  workersWithNewConnections: number;
}

/** Finds the replica an Envoy host is: same IP, and same port when the replica names one. */
export function replicaForHost(ip: string, port: number, replicas: readonly ReplicaInfo[]): ReplicaInfo | undefined {
  const candidates = replicas.filter((r) => r.ip === ip && (r.port === undefined || r.port === port));
  return candidates.length === 1 ? candidates[0] : candidates.find((r) => r.port === port);
}

export function diffSnapshots(before: ClusterSnapshot, after: ClusterSnapshot, replicas: readonly ReplicaInfo[]): ClusterDelta {
  const hosts: HostDelta[] = [];
  for (const [key, h] of after.hosts) {
    const prev = before.hosts.get(key);
    const delta: Record<string, number> = {};
    for (const [name, value] of Object.entries(h.stats)) {
      // Gauges (cx_active, rq_active) are reported as they are; counters as growth.
      delta[name] = name.endsWith("_active") ? value : value - (prev?.stats[name] ?? 0);
    }
    hosts.push({
      key,
      ip: h.ip,
      port: h.port,
      weight: h.weight,
      endpoints: after.endpoints.get(key) ?? 1,
      healthy: h.healthy,
      healthFlags: h.healthFlags,
      delta,
      replica: replicaForHost(h.ip, h.port, replicas),
    });
  }
  let workers = 0;
  for (const [k, v] of after.workerConnections) if (v - (before.workerConnections.get(k) ?? 0) > 0) workers++;
  return {
    hosts,
    upstreamRqTotal: after.upstreamRqTotal - before.upstreamRqTotal,
    retries: after.upstreamRqRetry - before.upstreamRqRetry,
    retryOverflows: after.upstreamRqRetryOverflow - before.upstreamRqRetryOverflow,
    membershipChanges: after.membershipChange - before.membershipChange,
    healthCheckFailures: after.healthCheckFailure - before.healthCheckFailure,
    workersWithNewConnections: workers,
  };
}
