// The `metrics` check.
// Design notes: docs/observability.md ("observability/metrics-check.ts").
import type { PrometheusClient, Sample, ScrapeTarget } from "./prometheus.ts";
import { snapshotClusterRequests, snapshotClusterRetries, snapshotReplicaRequests } from "./queries.ts";
import type { ObservabilityCheckResult } from "./types.ts";

export interface ReplicaRef {
  hostname: string;
  /** Address on the compose network: links the replica to its scrape target. */
  ip?: string;
}

/** What the harness sent to one service through Envoy. */
export interface SentTraffic {
  /** Compose service (= the DNS name Prometheus discovers it by). */
  service: string;
  /** Envoy cluster; defaults to the service name. */
  cluster?: string;
  /** Requests sent to the service's route through Envoy. */
  total: number;
  /** Answers per replica hostname (as the replicas named themselves). */
  perReplica: Record<string, number>;
  /** The running replicas, for naming unscraped ones (optional). */
  replicas?: readonly ReplicaRef[];
}

export interface ReplicaCount {
  count: number;
  /** The scrape target (ip:port) the series came from. */
  instance: string;
}

/** Absolute counters as Prometheus held them after one scrape of every target. */
export interface MetricsSnapshot {
  /** Oldest scrape time (ms since the epoch) among the targets: everything before it is counted. */
  scrapedAt: number;
  /** Newest of those scrape times: by then every target had been scraped after `since`. */
  allScrapedAt: number;
  /** compose service → replica hostname → requests on the service route. */
  replicas: Record<string, Record<string, ReplicaCount>>;
  /** Envoy cluster → upstream requests and retries. */
  clusters: Record<string, { requests: number; retries: number }>;
  /** Active targets of the envoy and services jobs at the time. */
  targets: ScrapeTarget[];
}

export const SCRAPE_JOBS = ["envoy", "services"] as const;

/** Builds a snapshot from query results (pure; exported for tests). */
export function snapshotFrom(
  scrapedAt: number,
  allScrapedAt: number,
  replicaSamples: readonly Sample[],
  clusterSamples: readonly Sample[],
  retrySamples: readonly Sample[],
  targets: readonly ScrapeTarget[],
): MetricsSnapshot {
  const replicas: MetricsSnapshot["replicas"] = {};
  for (const s of replicaSamples) {
    const service = s.labels.compose_service ?? "(no compose_service label)";
    const replica = s.labels.replica ?? `(no replica label: ${s.labels.instance ?? "?"})`;
    replicas[service] ??= {};
    const perService = replicas[service];
    const prev = perService[replica];
    perService[replica] = { count: (prev?.count ?? 0) + s.value, instance: s.labels.instance ?? prev?.instance ?? "" };
  }
  const clusters: MetricsSnapshot["clusters"] = {};
  for (const s of clusterSamples) {
    const name = s.labels.envoy_cluster_name;
    if (name) clusters[name] = { requests: s.value, retries: clusters[name]?.retries ?? 0 };
  }
  for (const s of retrySamples) {
    const name = s.labels.envoy_cluster_name;
    if (name) clusters[name] = { requests: clusters[name]?.requests ?? 0, retries: s.value };
  }
  return { scrapedAt, allScrapedAt, replicas, clusters, targets: [...targets] };
}

/**
 * Waits for a scrape of every envoy/services target that started at or after `since` (default:
 * now), then reads the absolute counters.
 */
export async function takeMetricsSnapshot(
  prom: PrometheusClient,
  opts: { since?: Date; timeoutMs?: number; services?: readonly string[] } = {},
): Promise<MetricsSnapshot> {
  const since = opts.since ?? new Date();
  const scraped = await prom.waitForScrapeAfter(since, { jobs: SCRAPE_JOBS, timeoutMs: opts.timeoutMs ?? 15_000 });
  const scope = opts.services ? { services: opts.services } : {};
  const [replicaSamples, clusterSamples, retrySamples, targets] = await Promise.all([
    prom.query(snapshotReplicaRequests(scope)),
    prom.query(snapshotClusterRequests(scope)),
    prom.query(snapshotClusterRetries(scope)),
    prom.targets(SCRAPE_JOBS),
  ]);
  return snapshotFrom(scraped.oldest.getTime(), scraped.newest.getTime(), replicaSamples, clusterSamples, retrySamples, targets);
}

export interface ServiceVerdict {
  service: string;
  passed: boolean;
  /** One line per problem, each naming its culprit. */
  problems: string[];
  /** Replica hostnames, scrape targets or the Envoy cluster to blame. */
  culprits: string[];
  metrics: Record<string, number>;
  /** Short summary of what agreed (for the passing detail). */
  summary: string;
}

/** Why a replica has no series: what Prometheus says about its scrape target. */
function targetDiagnosis(
  replica: ReplicaRef | undefined,
  service: string,
  targets: readonly ScrapeTarget[],
  mentioned: Set<string>,
): string {
  const describe = (t: ScrapeTarget): string => {
    mentioned.add(t.instance);
    return t.health === "up" ? `target ${t.instance} is up` : `target ${t.instance} is ${t.health}: ${t.lastError || "never scraped"}`;
  };
  if (!replica?.ip) {
    const own = targets.filter((t) => t.job === "services" && t.labels.compose_service === service);
    const down = own.filter((t) => t.health !== "up");
    if (own.length === 0) return `Prometheus has no scrape target for ${service} at all`;
    if (down.length > 0) return down.map(describe).join("; ");
    return `${service}'s targets (${own.map((t) => t.instance).join(", ")}) are up`;
  }
  const mine = targets.filter((t) => t.job === "services" && t.host === replica.ip);
  if (mine.length === 0) return `${replica.ip} is not a Prometheus scrape target (DNS discovery has not found it)`;
  return mine.map(describe).join("; ");
}

/** What one service's comparison found so far: each part adds to it. */
interface Findings {
  problems: string[];
  culprits: string[];
  metrics: Record<string, number>;
}

function blame(f: Findings, culprit: string, problem: string): void {
  f.problems.push(problem);
  f.culprits.push(culprit);
}

/** Envoy's counters for the service's cluster; returns the summary of what agreed. */
function compareCluster(before: MetricsSnapshot, after: MetricsSnapshot, s: SentTraffic, tol: number, f: Findings): string {
  const cluster = s.cluster ?? s.service;
  const culprit = `envoy cluster ${cluster}`;
  const c0 = before.clusters[cluster] ?? { requests: 0, retries: 0 };
  const c1 = after.clusters[cluster];
  if (!c1) {
    const envoyTargets = after.targets.filter((t) => t.job === "envoy");
    const why =
      envoyTargets.length === 0
        ? "Envoy is not a scrape target"
        : envoyTargets.map((t) => `target ${t.instance} ${t.health}${t.lastError ? `: ${t.lastError}` : ""}`).join("; ");
    blame(f, culprit, `Envoy cluster ${cluster}: no envoy_cluster_upstream_rq_total series in Prometheus (${why})`);
    return "";
  }
  const retries = c1.retries - c0.retries;
  const upstream = c1.requests - c0.requests;
  const counted = upstream - retries;
  f.metrics.envoy_cluster_requests = upstream;
  f.metrics.envoy_cluster_retries = retries;
  const minusRetries = retries > 0 ? ` (${upstream} minus ${retries} retries)` : "";
  if (upstream < 0) {
    const went = `upstream_rq_total went down (${c0.requests} → ${c1.requests})`;
    blame(f, culprit, `Envoy cluster ${cluster}: ${went}: Envoy restarted during the load?`);
  } else if (Math.abs(counted - s.total) > tol) {
    blame(
      f,
      culprit,
      `Envoy cluster ${cluster}: Prometheus counts ${counted} upstream requests${minusRetries}, the harness sent ${s.total}`,
    );
  }
  return `Envoy cluster ${cluster} +${counted}${retries > 0 ? ` (+${retries} retries)` : ""}`;
}

/** Each replica by its own counter; returns the replicas that agreed, as `host=count`. */
function compareReplicas(
  before: MetricsSnapshot,
  after: MetricsSnapshot,
  s: SentTraffic,
  tol: number,
  f: Findings,
  mentioned: Set<string>,
): string[] {
  const b = before.replicas[s.service] ?? {};
  const a = after.replicas[s.service] ?? {};
  const names = [...new Set([...Object.keys(s.perReplica), ...Object.keys(a)])].sort();
  let promTotal = 0;
  const agreed: string[] = [];
  for (const host of names) {
    const want = s.perReplica[host] ?? 0;
    const now = a[host];
    const was = b[host]?.count ?? 0;
    f.metrics[`replica:${host}:sent`] = want;
    if (!now) {
      if (want > 0) {
        // targetDiagnosis marks the targets it names, so compareTargets does not name them again.
        const why = targetDiagnosis(
          s.replicas?.find((r) => r.hostname === host),
          s.service,
          after.targets,
          mentioned,
        );
        blame(f, host, `replica ${host}: the harness got ${want} answers from it, Prometheus has no series for it — ${why}`);
      }
      continue;
    }
    const delta = now.count - was;
    f.metrics[`replica:${host}:prometheus`] = delta;
    promTotal += Math.max(0, delta);
    if (delta < 0) {
      blame(f, host, `replica ${host}: its counter went down (${was} → ${now.count}): the replica restarted during the load?`);
    } else if (Math.abs(delta - want) > tol) {
      const hint = want > delta ? "fewer than the harness got from it" : "more than the harness got from it";
      blame(f, host, `replica ${host} (${now.instance}): Prometheus counts ${delta}, ${hint} (${want})`);
    } else if (want > 0) {
      agreed.push(`${host}=${delta}`);
    }
  }
  f.metrics.prometheus_replica_total = promTotal;
  return agreed;
}

/** Down targets of the service not named yet, and listed replicas that are no target at all. */
function compareTargets(after: MetricsSnapshot, s: SentTraffic, f: Findings, mentioned: Set<string>): void {
  for (const t of after.targets) {
    if (t.job !== "services" || t.labels.compose_service !== s.service || t.health === "up" || mentioned.has(t.instance)) continue;
    const host = s.replicas?.find((r) => r.ip === t.host)?.hostname;
    blame(
      f,
      host ?? t.instance,
      `scrape target ${t.instance}${host ? ` (replica ${host})` : ""} is ${t.health}: ${t.lastError || "never scraped"}`,
    );
  }
  // Every running replica the caller listed must be a healthy target (scaling followed).
  for (const r of s.replicas ?? []) {
    if (!r.ip || f.culprits.includes(r.hostname)) continue;
    const mine = after.targets.filter((t) => t.job === "services" && t.host === r.ip);
    if (mine.length === 0)
      blame(f, r.hostname, `replica ${r.hostname} (${r.ip}): not a Prometheus scrape target (DNS discovery has not found it)`);
  }
}

/**
 * Compares the counters' increase between two snapshots with what the harness sent, per service.
 * `tolerance` (default 0) allows that many requests of difference per comparison.
 */
export function compareMetrics(
  before: MetricsSnapshot,
  after: MetricsSnapshot,
  sent: readonly SentTraffic[],
  opts: { tolerance?: number } = {},
): ServiceVerdict[] {
  const tol = opts.tolerance ?? 0;
  return sent.map((s) => {
    const f: Findings = { problems: [], culprits: [], metrics: { sent_total: s.total } };
    const mentioned = new Set<string>();
    const envoySummary = compareCluster(before, after, s, tol, f);
    const agreed = compareReplicas(before, after, s, tol, f, mentioned);
    compareTargets(after, s, f, mentioned);
    const replicas = agreed.length ? `replicas ${agreed.join(" ")}` : "";
    const summary = [envoySummary, replicas].filter((x) => x !== "").join("; ");
    const { problems, culprits, metrics } = f;
    return { service: s.service, passed: problems.length === 0, problems, culprits: [...new Set(culprits)], metrics, summary };
  });
}

export interface MetricsCheckOptions {
  /** Snapshot taken (with takeMetricsSnapshot) right before the load. */
  before: MetricsSnapshot;
  sent: readonly SentTraffic[];
  /** When the last request of the load was answered. */
  loadEndedAt: Date;
  /** How long to keep re-reading after new scrapes until the counts agree (default 15 s). */
  timeoutMs?: number;
  tolerance?: number;
}

/**
 * The metrics check: waits for a scrape after the load, compares, and re-reads after each further
 * scrape until every service agrees or `timeoutMs` passes. One result per service.
 * metrics: scrape_lag_s (load end → every target scraped once after it), agreement_after_s (load
 * end → counts agreed, or gave up), plus the counts.
 */
export async function metricsCheck(prom: PrometheusClient, opts: MetricsCheckOptions): Promise<ObservabilityCheckResult[]> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const deadline = opts.loadEndedAt.getTime() + timeoutMs;
  const services = opts.sent.map((s) => s.service);
  let since = opts.loadEndedAt;
  let firstScrape: number | undefined;
  let verdicts: ServiceVerdict[] = [];
  for (;;) {
    let after: MetricsSnapshot;
    try {
      after = await takeMetricsSnapshot(prom, { since, timeoutMs: Math.max(1000, deadline - Date.now()) });
    } catch (err) {
      const why = (err as Error).message;
      if (verdicts.length > 0) break;
      return services.map((service) => ({
        name: "metrics",
        service,
        passed: false,
        detail: `no scrape of Prometheus after the load: ${why}`,
      }));
    }
    firstScrape ??= after.allScrapedAt;
    verdicts = compareMetrics(opts.before, after, opts.sent, opts.tolerance === undefined ? {} : { tolerance: opts.tolerance });
    if (verdicts.every((v) => v.passed) || Date.now() >= deadline) break;
    since = new Date(after.scrapedAt + 1);
  }
  const agreementAfter = (Date.now() - opts.loadEndedAt.getTime()) / 1000;
  const scrapeLag = ((firstScrape ?? Date.now()) - opts.loadEndedAt.getTime()) / 1000;
  return verdicts.map((v) => ({
    name: "metrics",
    service: v.service,
    passed: v.passed,
    detail: v.passed
      ? `Prometheus agrees with the ${opts.sent.find((s) => s.service === v.service)?.total ?? 0} requests the harness sent: ${v.summary} (every target scraped ${scrapeLag.toFixed(1)} s after the load)`
      : `Prometheus disagrees with the harness for ${v.service} (culprit${v.culprits.length > 1 ? "s" : ""}: ${v.culprits.join(", ")}): ${v.problems.join("; ")}`,
    metrics: { ...v.metrics, scrape_lag_s: scrapeLag, agreement_after_s: agreementAfter },
  }));
}
