// The metrics check around its own counted batch of requests: Prometheus' counters before and after
// it must differ by what the batch got (docs/observability.md, "The metrics probe").
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

/** What one service's probe batch got, counted by the sender (verify's load generator). */
export interface ProbeTraffic {
  /** Requests sent. */
  sent: number;
  /** Answers per replica hostname. */
  perReplica: Record<string, number>;
  /** Bytes on the probe's sockets and in its bodies, for the bytes check. */
  bytes: Omit<VerifierBytes, "service" | "cluster">;
}

/** Sends `requests` probe requests to one service through Envoy's listener. */
export type SendProbe = (service: ProbedService, requests: number) => Promise<ProbeTraffic>;

export interface ProbeOutcome {
  /** The metrics verdict per service. */
  results: ObservabilityCheckResult[];
  /** Prometheus' counters right before the probe: the start of the probe's window. */
  before: MetricsSnapshot;
  /** What the probe's sockets and bodies carried, per service, for the bytes check. */
  bytes: VerifierBytes[];
}

/** The metrics verdict per service, from a probe batch that `send` puts through Envoy's listener. */
export async function metricsProbeCheck(
  prom: PrometheusClient,
  send: SendProbe,
  services: readonly ProbedService[],
  budget: WaitBudget,
  say: (line: string) => void,
): Promise<ProbeOutcome> {
  const upTo = `up to ${(budget.scrapeMs / 1000).toFixed(0)} s`;
  say(`metrics: waiting for a scrape of every target before the probe (${upTo})`);
  const before = await takeMetricsSnapshot(prom, { timeoutMs: budget.scrapeMs, services: services.map((s) => s.service) });
  const probes = await Promise.all(services.map(async (s) => ({ s, traffic: await send(s, probeRequests(s.replicas.length)) })));
  const sent: SentTraffic[] = probes.map(({ s, traffic }) => ({
    service: s.service,
    cluster: s.cluster,
    total: traffic.sent,
    perReplica: traffic.perReplica,
    replicas: s.replicas,
  }));
  const bytes: VerifierBytes[] = probes.map(({ s, traffic }) => ({ service: s.service, cluster: s.cluster, ...traffic.bytes }));
  const loadEndedAt = new Date();
  const requests = sent.reduce((n, s) => n + s.total, 0);
  say(`metrics: waiting for Prometheus to count the probe's ${requests} requests (${upTo})`);
  const results = await metricsCheck(prom, { before, sent, loadEndedAt, timeoutMs: budget.scrapeMs });
  return { results, before, bytes };
}
