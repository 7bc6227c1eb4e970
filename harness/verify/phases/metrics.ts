// Phase "metrics probe": a counted batch per service through Envoy's listener, which Prometheus'
// counters must agree with (metrics check), and the bytes check over the same batch.
import { attempt, type Attempt } from "../../lib/attempt.ts";
import { log } from "../../lib/log.ts";
import {
  bytesCheck,
  metricsProbeCheck,
  type ObservabilityCheckResult,
  type PrometheusClient,
  type ProbedService,
  type SendProbe,
} from "../../observability/index.ts";
import { observabilityPanelOrNull, panelScopeSince } from "../../observability/report.ts";
import type { StackDirectory } from "../../stack/directory.ts";
import type { StackEndpoints } from "../../stack/discover.ts";
import { bytesOfLoads, runLoad } from "../load.ts";
import { couldNotRun } from "./verdicts.ts";
import type { PrometheusWatch } from "./watch.ts";

export interface MetricsInput {
  listener: Attempt<StackEndpoints>;
  prometheus: Attempt<PrometheusWatch>;
  probed: readonly ProbedService[];
  directory: StackDirectory;
}

export interface MetricsOutcome {
  metrics: ObservabilityCheckResult[];
  bytes: ObservabilityCheckResult[];
  /** Set when Prometheus answered: the panel then covers the load up to the probe's first scrape. */
  panelUntil?: { prometheus: PrometheusClient; scrapedAt: number };
}

/** The probe's requests, sent with verify's load generator. */
function sender(listenerUrl: string): SendProbe {
  return async (s, requests) => {
    const load = await runLoad({ listenerUrl, path: s.path, requests, concurrency: 4, connections: 4, expectedServiceId: s.serviceId });
    const b = bytesOfLoads(load);
    return {
      sent: load.tally.sent,
      perReplica: Object.fromEntries(load.tally.counts()),
      bytes: {
        wire: { sent: b.wireSent, received: b.wireReceived },
        bodySent: b.bodySent,
        bodyReceivedPerReplica: b.bodyReceivedPerReplica,
      },
    };
  };
}

/** Metrics and bytes verdicts; a check that could not run says why, for both. */
export async function metricsPhase(input: MetricsInput): Promise<MetricsOutcome> {
  const out = await probe(input);
  const notRun = out.metrics.filter((m) => m.detail.startsWith("could not run"));
  const bytes = [...out.bytes, ...notRun.map((m) => ({ ...m, name: "bytes" }))];
  const prometheusAnswers = out.metrics.length > notRun.length;
  return { metrics: out.metrics, bytes, ...(prometheusAnswers && out.panelUntil ? { panelUntil: out.panelUntil } : {}) };
}

async function probe(input: MetricsInput): Promise<MetricsOutcome> {
  const { listener, prometheus, probed, directory } = input;
  if (!listener.ok) return { metrics: couldNotRun("metrics", probed, listener.error), bytes: [] };
  if (!prometheus.ok) return { metrics: couldNotRun("metrics", probed, prometheus.error), bytes: [] };
  const { client, budget, targetsSettled } = prometheus.value;
  const upTo = (budget.targetsMs / 1000).toFixed(0);
  log.info(`metrics: waiting for every replica to be an up scrape target (up to ${upTo} s after the load began)`);
  const targetsProblem = await targetsSettled;
  if (targetsProblem) log.info(`metrics: ${directory.nameIn(targetsProblem)}`);
  const say = (line: string): void => log.info(line);
  const sent = await attempt(() => metricsProbeCheck(client, sender(listener.value.listenerUrl), probed, budget, say));
  if (!sent.ok) return { metrics: couldNotRun("metrics", probed, `Prometheus: ${sent.error}`), bytes: [] };
  const outcome = sent.value;
  // Bytes over the probe's window, read before the tracing and layers probes reach Envoy's listener.
  const scope = { ...panelScopeSince(outcome.before.allScrapedAt), services: probed.map((s) => s.service) };
  const window = await observabilityPanelOrNull(client, scope, (reason) =>
    log.warn(`bytes: no Prometheus panel over the probe: ${reason}`),
  );
  return {
    metrics: outcome.results,
    bytes: bytesCheck(window, outcome.bytes),
    panelUntil: { prometheus: client, scrapedAt: outcome.before.allScrapedAt },
  };
}
