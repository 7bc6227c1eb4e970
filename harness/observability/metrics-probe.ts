// The metrics check's own traffic: a counted batch of requests per service, sent after the
// load-balancing checks, so that those checks never wait on Prometheus. Prometheus' counters are
// read after a scrape that follows everything before the batch, and again after a scrape that
// follows the batch; the increase must equal what the batch got, per Envoy cluster and per replica.
import { runLoad } from "../verify/load.ts";
import { metricsCheck, type SentTraffic, takeMetricsSnapshot } from "./metrics-check.ts";
import type { PrometheusClient } from "./prometheus.ts";
import { waitForReplicaTargets } from "./targets.ts";
import type { ObservabilityCheckResult } from "./types.ts";
import type { WaitBudget } from "./wait-budget.ts";

export interface ProbedService {
  service: string;
  cluster: string;
  path: string;
  serviceId: string;
  /** The replicas that should serve, for naming the ones Prometheus cannot see. */
  replicas: readonly { hostname: string; ip: string }[];
}

/** Requests per service: enough for every replica to answer several times under round robin. */
export function probeRequests(replicas: number): number {
  return Math.max(60, 5 * replicas);
}

/**
 * Resolves with what still differs between Prometheus' scrape targets and the replicas after the
 * budget (empty when they agree): started before the load-balancing load, it runs alongside it.
 */
export async function replicaTargetsProblem(prom: PrometheusClient, services: readonly ProbedService[], budget: WaitBudget): Promise<string | undefined> {
  try {
    await waitForReplicaTargets(
      prom,
      Object.fromEntries(services.map((s) => [s.service, s.replicas.map((r) => r.ip)])),
      { timeoutMs: budget.targetsMs },
    );
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The metrics verdict per service, from a probe batch through Envoy's listener. */
export async function metricsProbeCheck(
  prom: PrometheusClient,
  listenerUrl: string,
  services: readonly ProbedService[],
  budget: WaitBudget,
  say: (line: string) => void,
): Promise<ObservabilityCheckResult[]> {
  say(`metrics: waiting for a scrape of every target before the probe (up to ${(budget.scrapeMs / 1000).toFixed(0)} s)`);
  const before = await takeMetricsSnapshot(prom, { timeoutMs: budget.scrapeMs, services: services.map((s) => s.service) });
  const sent: SentTraffic[] = await Promise.all(
    services.map(async (s) => {
      const load = await runLoad({ listenerUrl, path: s.path, requests: probeRequests(s.replicas.length), concurrency: 4, connections: 4, expectedServiceId: s.serviceId });
      return {
        service: s.service,
        cluster: s.cluster,
        total: load.tally.sent,
        perReplica: Object.fromEntries(load.tally.counts()),
        replicas: s.replicas,
      };
    }),
  );
  const loadEndedAt = new Date();
  say(`metrics: waiting for Prometheus to count the probe's ${sent.reduce((n, s) => n + s.total, 0)} requests (up to ${(budget.scrapeMs / 1000).toFixed(0)} s)`);
  return metricsCheck(prom, { before, sent, loadEndedAt, timeoutMs: budget.scrapeMs });
}
