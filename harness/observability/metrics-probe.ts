// The metrics check's own traffic: a counted batch of requests per service, sent after the
// load-balancing checks, so that those checks never wait on Prometheus. The same batch, counted in
// bytes by its sockets, is what the bytes check compares with Prometheus' byte counters. Prometheus' counters are
// read after a scrape that follows everything before the batch, and again after a scrape that
// follows the batch; the increase must equal what the batch got, per Envoy cluster and per replica.
import { bytesOfLoads, runLoad } from "../verify/load.ts";
import type { VerifierBytes } from "./bytes-check.ts";
import { metricsCheck, type MetricsSnapshot, type SentTraffic, takeMetricsSnapshot } from "./metrics-check.ts";
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
export async function replicaTargetsProblem(
  prom: PrometheusClient,
  services: readonly ProbedService[],
  budget: WaitBudget,
): Promise<string | undefined> {
  try {
    await waitForReplicaTargets(prom, Object.fromEntries(services.map((s) => [s.service, s.replicas.map((r) => r.ip)])), {
      timeoutMs: budget.targetsMs,
    });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export interface ProbeOutcome {
  /** The metrics verdict per service. */
  results: ObservabilityCheckResult[];
  /** Prometheus' counters right before the probe: the start of the probe's window. */
  before: MetricsSnapshot;
  /** What the probe's sockets and bodies carried, per service, for the bytes check. */
  bytes: VerifierBytes[];
}

/** The metrics verdict per service, from a probe batch through Envoy's listener. */
export async function metricsProbeCheck(
  prom: PrometheusClient,
  listenerUrl: string,
  services: readonly ProbedService[],
  budget: WaitBudget,
  say: (line: string) => void,
): Promise<ProbeOutcome> {
  say(`metrics: waiting for a scrape of every target before the probe (up to ${(budget.scrapeMs / 1000).toFixed(0)} s)`);
  const before = await takeMetricsSnapshot(prom, { timeoutMs: budget.scrapeMs, services: services.map((s) => s.service) });
  const probes = await Promise.all(
    services.map(async (s) => ({
      s,
      load: await runLoad({
        listenerUrl,
        path: s.path,
        requests: probeRequests(s.replicas.length),
        concurrency: 4,
        connections: 4,
        expectedServiceId: s.serviceId,
      }),
    })),
  );
  const sent: SentTraffic[] = probes.map(({ s, load }) => ({
    service: s.service,
    cluster: s.cluster,
    total: load.tally.sent,
    perReplica: Object.fromEntries(load.tally.counts()),
    replicas: s.replicas,
  }));
  const bytes: VerifierBytes[] = probes.map(({ s, load }) => {
    const b = bytesOfLoads(load);
    return {
      service: s.service,
      cluster: s.cluster,
      wire: { sent: b.wireSent, received: b.wireReceived },
      bodySent: b.bodySent,
      bodyReceivedPerReplica: b.bodyReceivedPerReplica,
    };
  });
  const loadEndedAt = new Date();
  say(
    `metrics: waiting for Prometheus to count the probe's ${sent.reduce((n, s) => n + s.total, 0)} requests (up to ${(budget.scrapeMs / 1000).toFixed(0)} s)`,
  );
  const results = await metricsCheck(prom, { before, sent, loadEndedAt, timeoutMs: budget.scrapeMs });
  return { results, before, bytes };
}
