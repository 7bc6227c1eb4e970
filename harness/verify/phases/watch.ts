// Phase "watch": waits started before the load and awaited after it, so the load never waits for
// Prometheus' scrape targets or for Zipkin's start-up (docs/verify.md, "Phases").
import { attempt, type Attempt } from "../../lib/attempt.ts";
import { log } from "../../lib/log.ts";
import {
  PrometheusClient,
  prometheusBudget,
  prometheusIntervals,
  replicaTargetsProblem,
  type WaitBudget,
  ZipkinClient,
} from "../../observability/index.ts";
import type { Found } from "./discover.ts";

export interface PrometheusWatch {
  client: PrometheusClient;
  budget: WaitBudget;
  /** What still differs between the scrape targets and the replicas once the budget ran out. */
  targetsSettled: Promise<string | undefined>;
}

export interface ZipkinWatch {
  client: ZipkinClient;
  /** Zipkin answering its health check, within the stack's wait bound. */
  ready: Promise<Attempt<void>>;
}

export interface Watches {
  prometheus: Attempt<PrometheusWatch>;
  zipkin: Attempt<ZipkinWatch>;
}

export async function startWatches(found: Found, waitTimeoutMs: number): Promise<Watches> {
  const prometheus = found.prometheusUrl.ok
    ? { ok: true as const, value: await watchPrometheus(found, found.prometheusUrl.value) }
    : found.prometheusUrl;
  const zipkin = found.zipkinUrl.ok ? { ok: true as const, value: watchZipkin(found.zipkinUrl.value, waitTimeoutMs) } : found.zipkinUrl;
  return { prometheus, zipkin };
}

async function watchPrometheus(found: Found, url: string): Promise<PrometheusWatch> {
  const client = new PrometheusClient(url);
  const budget = prometheusBudget(await prometheusIntervals(url));
  const upTo = (budget.targetsMs / 1000).toFixed(0);
  log.info(`metrics: Prometheus may take up to ${upTo} s to scrape every replica (${budget.explain})`);
  return { client, budget, targetsSettled: replicaTargetsProblem(client, found.probed, budget) };
}

/** Deploy does not wait for Zipkin (nothing on the request path needs it): it may still be starting. */
function watchZipkin(url: string, waitTimeoutMs: number): ZipkinWatch {
  const client = new ZipkinClient(url);
  return { client, ready: attempt(() => client.untilHealthy(waitTimeoutMs)) };
}
