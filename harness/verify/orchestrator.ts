// The verify orchestrator: the load-balancing proof against a running stack, then its
// observability, as named phases whose outputs feed the next (docs/verify.md, "Phases").
import { ifSettled } from "../lib/attempt.ts";
import { errorLine } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { settings } from "../settings.ts";
import type { PipelineConfig } from "../config.ts";
import type { ObservabilityEndpoints } from "../observability/index.ts";
import type { StackEndpoints } from "../stack/discover.ts";
import { withConvergence, type ConvergenceResult } from "./convergence.ts";
import { errorReport, finish } from "./error-report.ts";
import { discover, observabilityUrls, type VerifyLocator } from "./phases/discover.ts";
import { layersPhase } from "./phases/layers.ts";
import { loadPhase } from "./phases/load.ts";
import { metricsPhase } from "./phases/metrics.ts";
import { loadPanel } from "./phases/panel.ts";
import { rpcPhase } from "./phases/rpc.ts";
import { sendTracing } from "./phases/tracing.ts";
import { addVerdicts } from "./phases/verdicts.ts";
import { startWatches } from "./phases/watch.ts";
import { clearReports, formatReport, writeReports, type WrittenReports } from "./report.ts";
import type { VerifyReport } from "./schema.ts";

/** What verify needs of the stage context: the config and where the stack is found. */
export interface VerifyContext {
  config: Pick<
    PipelineConfig,
    "projectName" | "target" | "discovery" | "weights" | "verify" | "waitTimeoutSeconds" | "reportDir" | "scale"
  >;
  locator: VerifyLocator;
}

export interface VerifyOutcome {
  passed: boolean;
  report: VerifyReport;
  /** The terminal tables and one verdict line per check. */
  table: string;
  /** Envoy's listener and admin; undefined when no running Envoy was found. */
  endpoints: StackEndpoints | undefined;
  /** Prometheus' and Zipkin's URLs, each when it was found running. */
  observability: Partial<ObservabilityEndpoints>;
  files: WrittenReports;
}

export interface VerifyStackOptions {
  /** Desired replicas per service (default: the config's scale map). */
  desired?: Record<string, number>;
  /** Convergence measured by the scale stage (scaleMeasured), added as each service's check. */
  convergence?: Record<string, ConvergenceResult>;
}

type Proof = Pick<VerifyOutcome, "report" | "endpoints" | "observability">;

/**
 * The phases in order: discover, watch (started, awaited later), load, tracing (sent early when
 * Zipkin already answers), metrics probe with bytes, then panel, tracing's verdict and layers side
 * by side, then rpc. Throws only for internal errors and bad input.
 */
async function proveStack(ctx: VerifyContext, desired: Record<string, number>, startedAt: Date): Promise<Proof> {
  const { config } = ctx;
  const source = config.target === "swarm" ? "the swarm's tasks" : "Docker";
  const found = await discover(ctx.locator, desired, source, config.projectName);
  const waitMs = config.waitTimeoutSeconds * 1000;
  const watches = await startWatches(found, waitMs);
  const load = await loadPhase(config, found, startedAt);
  const tracingInput = { listener: load.listener, zipkin: watches.zipkin, probed: found.probed, readyTimeoutMs: waitMs };
  // Zipkin already answering: its probes go before the metrics probe's first scrape.
  const zipkinAnswered = watches.zipkin.ok && (await ifSettled(watches.zipkin.value.ready))?.ok === true;
  const tracedEarly = zipkinAnswered ? (await sendTracing(tracingInput))() : undefined;
  const metrics = await metricsPhase({
    listener: load.listener,
    prometheus: watches.prometheus,
    probed: found.probed,
    directory: found.directory,
  });
  const services = found.states.map((s) => s.service);
  const [panel, tracing, layers] = await Promise.all([
    metrics.panelUntil ? loadPanel(metrics.panelUntil.prometheus, load.startedAt, metrics.panelUntil.scrapedAt, services) : null,
    tracedEarly ?? sendTracing(tracingInput).then((follow) => follow()),
    load.listener.ok ? layersPhase(load.report, load.listener.value, found.states) : [],
  ]);
  const rpc = load.listener.ok
    ? await rpcPhase({ config, report: load.report, endpoints: load.listener.value, states: found.states, directory: found.directory })
    : [];
  const observability = [...metrics.metrics, ...metrics.bytes, ...tracing];
  const report = addVerdicts(load.report, { layers, rpc, observability, panel, loadEndedAt: load.endedAt }, found.directory);
  return { report, endpoints: found.envoy.ok ? found.envoy.value : undefined, observability: observabilityUrls(found) };
}

/** Clears the last run's reports, proves the stack and writes the reports, on pass, fail and error. */
export async function verifyStack(ctx: VerifyContext, opts: VerifyStackOptions = {}): Promise<VerifyOutcome> {
  const { config } = ctx;
  const desired = Object.fromEntries(Object.entries(opts.desired ?? config.scale).filter(([, replicas]) => replicas > 0));
  const startedAt = new Date();
  await clearReports(config.reportDir);
  let proof: Proof;
  try {
    proof = await proveStack(ctx, desired, startedAt);
  } catch (err) {
    // Docker itself failing, or a bug: the reports still say so, check by check.
    const reason = errorLine(err);
    log.warn(`verify could not look at the stack: ${reason}`);
    if (settings().debug && err instanceof Error && err.stack) log.info(err.stack);
    proof = { report: errorReport(Object.keys(desired), reason, startedAt), endpoints: undefined, observability: {} };
  }
  let report = proof.report;
  for (const [service, result] of Object.entries(opts.convergence ?? {})) {
    if (report.services.some((s) => s.service === service)) report = withConvergence(report, service, result);
  }
  report = finish(report);
  const files = await writeReports(report, config.reportDir);
  return { ...proof, report, passed: report.passed, table: formatReport(report), files };
}
