// Phase "load": the load-balancing checks through Envoy's listener (verify/run.ts), which need
// nothing but Envoy; or a report saying why they could not run.
import type { Attempt } from "../../lib/attempt.ts";
import type { PipelineConfig } from "../../config.ts";
import type { ServiceState } from "../../stack/desired-state.ts";
import type { StackEndpoints } from "../../stack/discover.ts";
import { configuredWeights } from "../../xds/weights.ts";
import { loadErrorReport } from "../error-report.ts";
import { runVerify, type VerifyServiceSpec } from "../run.ts";
import type { VerifyReport } from "../schema.ts";
import { xdsProblems } from "../xds-envoy-state.ts";
import { type Found, routedService } from "./discover.ts";

export type LoadConfig = Pick<PipelineConfig, "discovery" | "weights" | "verify">;

export interface LoadOutcome {
  report: VerifyReport;
  startedAt: Date;
  endedAt: Date;
  /** Envoy's endpoints if its listener answered the load, else why the probes would only time out. */
  listener: Attempt<StackEndpoints>;
}

export function specOf(state: ServiceState, weights: Readonly<Record<string, number>>): VerifyServiceSpec {
  return {
    ...routedService(state.service),
    // Identical replicas each get an equal share; only configured (xds) weights may skew it.
    expect: configuredWeights(weights, state.serving),
    replicas: state.serving.map((r) => ({ name: r.name, hostname: r.hostname, ip: r.ip, ...(r.health ? { health: r.health } : {}) })),
    desired: { desired: state.desired, notServing: state.notServing, extras: state.extras, absent: state.absent },
  };
}

async function loadBalancingReport(config: LoadConfig, found: Found, verifyStartedAt: Date): Promise<VerifyReport> {
  const specs = found.states.map((s) => specOf(s, config.weights));
  const services = specs.map((s) => s.service);
  if (!found.envoy.ok) return loadErrorReport(services, found.envoy.error, verifyStartedAt);
  const endpoints = found.envoy.value;
  // xds: a cluster the control plane never delivered (warming, or no CDS at all) is named as such.
  const xds =
    config.discovery === "xds"
      ? await xdsProblems(
          endpoints.adminUrl,
          specs.map((s) => s.cluster),
        )
      : [];
  if (xds.length > 0) return loadErrorReport(services, xds.join("; "), verifyStartedAt);
  return runVerify({
    listenerUrl: endpoints.listenerUrl,
    adminUrl: endpoints.adminUrl,
    services: specs,
    concurrency: config.verify.concurrency,
    namer: found.directory,
    ...(config.verify.requests > 0 ? { requests: config.verify.requests } : {}),
  });
}

/** Envoy's listener answered nothing at all (down or frozen). */
function listenerSilent(report: VerifyReport): boolean {
  const silent = (s: VerifyReport["services"][number]): boolean => s.requests.ok === 0 && s.failures.every((f) => f.kind === "transport");
  return report.services.length > 0 && report.services.every(silent);
}

export async function loadPhase(config: LoadConfig, found: Found, verifyStartedAt: Date): Promise<LoadOutcome> {
  const startedAt = new Date();
  const report = await loadBalancingReport(config, found, verifyStartedAt);
  const endedAt = new Date();
  const listener: Attempt<StackEndpoints> = !found.envoy.ok
    ? { ok: false, error: `no Envoy listener (${found.envoy.error})` }
    : listenerSilent(report)
      ? { ok: false, error: "Envoy's listener did not answer the load-balancing load" }
      : found.envoy;
  return { report, startedAt, endedAt, listener };
}
