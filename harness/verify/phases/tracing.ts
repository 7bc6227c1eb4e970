// Phase "tracing": the tracing check's probes are sent (once Zipkin answers), then followed into
// Zipkin. Sending and following are apart so the orchestrator can send before the metrics probe.
import { attempt, type Attempt } from "../../lib/attempt.ts";
import { log } from "../../lib/log.ts";
import { type ObservabilityCheckResult, type ProbedService, sendTracingProbes, tracingBudgetMs } from "../../observability/index.ts";
import type { StackEndpoints } from "../../stack/discover.ts";
import { couldNotRun } from "./verdicts.ts";
import type { ZipkinWatch } from "./watch.ts";

/** Follows the sent probes into Zipkin: the tracing verdict per service. */
export type FollowTraces = () => Promise<ObservabilityCheckResult[]>;

export interface TracingInput {
  listener: Attempt<StackEndpoints>;
  zipkin: Attempt<ZipkinWatch>;
  probed: readonly ProbedService[];
  /** Bounds Zipkin's answering again if it stops meanwhile (it answered before the probes). */
  readyTimeoutMs: number;
}

export async function sendTracing(input: TracingInput): Promise<FollowTraces> {
  const { listener, zipkin, probed } = input;
  const failed =
    (why: string): FollowTraces =>
    async () =>
      couldNotRun("tracing", probed, why);
  if (!listener.ok) return failed(listener.error);
  if (!zipkin.ok) return failed(zipkin.error);
  const ready = await zipkin.value.ready;
  if (!ready.ok) return failed(ready.error);
  const timeoutMs = tracingBudgetMs();
  const upTo = `up to ${(timeoutMs / 1000).toFixed(0)} s`;
  log.info(`tracing: following each probe's trace into Zipkin (${upTo}: ${TRACING_WAIT})`);
  const sent = await attempt(() =>
    sendTracingProbes({
      listenerUrl: listener.value.listenerUrl,
      zipkin: zipkin.value.client,
      services: probed.map((s) => ({ service: s.service, path: s.path, id: s.serviceId })),
      timeoutMs,
      readyTimeoutMs: input.readyTimeoutMs,
    }),
  );
  if (!sent.ok) return failed(`Zipkin: ${sent.error}`);
  return async () => {
    const r = await attempt(() => sent.value.follow());
    return r.ok ? r.value : couldNotRun("tracing", probed, `Zipkin: ${r.error}`);
  };
}

const TRACING_WAIT = "Envoy and the service flush spans every 1 s and 0.5 s, plus Zipkin's ingest";
