// verify: the load-balancing proof against the deployed stack, then its observability.
//
// How the verdict holds up when the stack is broken:
// - The desired state comes from the scale map: --scale, else what deploy or scale last applied to
//   the stack (stack/applied-scale.ts; a swarm's own service specs), else the config.
//   Docker's containers are compared with it: desired replicas that do not serve and extra
//   containers fail membership, by name, with why (exit code, OOM kill, pause, health, log tail).
// - No check gates another. The load-balancing checks run first and need nothing but Envoy;
//   metrics and tracing send their own probes afterwards. A check whose data cannot be had fails
//   with the reason; nothing throws out of verify but bad input and internal errors.
// - Every wait is bounded by what it waits for (Prometheus' scrape and DNS intervals, Zipkin's
//   flush intervals; see observability/wait-budget.ts) and says so on stderr while it waits.
// - Reports are written on pass, on fail and on error, after the last run's are removed.
import { log } from "../lib/log.ts";
import {
  metricsProbeCheck,
  PrometheusClient,
  prometheusBudget,
  prometheusIntervals,
  replicaTargetsProblem,
  sendTracingProbes,
  tracingBudgetMs,
  ZipkinClient,
  type ObservabilityCheckResult,
  type ObservabilityEndpoints,
  type ProbedService,
} from "../observability/index.ts";
import { bytesCheck } from "../observability/bytes-check.ts";
import { type ObservabilityPanel, observabilityPanelOrNull, panelScopeSince } from "../observability/report.ts";
import type { ServiceState } from "../stack/desired-state.ts";
import type { StackDirectory } from "../stack/directory.ts";
import type { StackEndpoints } from "../stack/discover.ts";
import { routeFor } from "../stack/routes.ts";
import { withConvergence, type ConvergenceResult } from "../verify/convergence.ts";
import { clearReports, formatReport, writeReports, type WrittenReports } from "../verify/report.ts";
import { l4ConnectionsFor, layersResult, probeL4 } from "../verify/layers.ts";
import { probeRpc } from "../verify/rpc.ts";
import { runVerify, type VerifyServiceSpec } from "../verify/run.ts";
import type { CheckResult, VerifyReport } from "../verify/schema.ts";
import { unavailableCheck, unrunServiceReport } from "../verify/unrun.ts";
import { xdsProblems } from "../verify/xds-envoy-state.ts";
import { configuredWeights } from "../xds/weights.ts";
import type { StageContext } from "./context.ts";

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

/** One line of a failure, without a stack: what happened, in the words of the error. */
const reasonOf = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "unknown error";

async function attempt<T>(work: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
  try {
    return { ok: true, value: await work() };
  } catch (err) {
    return { ok: false, error: reasonOf(err) };
  }
}

/** An observability verdict as a check of the report, every address in it named by container. */
function asCheck(r: ObservabilityCheckResult, directory: StackDirectory | undefined): CheckResult {
  const reason = directory ? directory.nameIn(r.detail) : r.detail;
  return {
    name: r.name === "tracing" || r.name === "bytes" ? r.name : "metrics",
    passed: r.passed,
    reason,
    culprits: [],
    details: Object.entries(r.metrics ?? {}).map(([k, v]) => `${k} = ${v}`),
  };
}

function addCheck(report: VerifyReport, service: string, check: CheckResult): void {
  const s = report.services.find((x) => x.service === service);
  if (!s) return;
  s.checks.push(check);
  s.passed = s.checks.every((c) => c.passed);
}

function finish(report: VerifyReport): VerifyReport {
  for (const s of report.services) s.passed = s.checks.every((c) => c.passed);
  report.passed = report.services.length > 0 && report.services.every((s) => s.passed);
  report.finishedAt = new Date().toISOString();
  report.durationSeconds = (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000;
  return report;
}

/** A report in which nothing could run: every check of every service fails with `reason`. */
function errorReport(services: readonly string[], reason: string, startedAt: Date): VerifyReport {
  return {
    schemaVersion: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: startedAt.toISOString(),
    durationSeconds: 0,
    listenerUrl: "",
    adminUrl: "",
    envoy: { version: "unknown", state: reason, concurrency: 0 },
    settings: { alpha: 1e-6, power: 0.99, concurrency: 0, connections: 0, requests: null },
    services: services.map((service) => {
      const route = routeFor(service);
      const s = unrunServiceReport({ service, path: route.path, cluster: route.cluster, serviceId: route.id }, reason);
      s.checks.push(unavailableCheck("metrics", reason), unavailableCheck("bytes", reason), unavailableCheck("tracing", reason));
      return s;
    }),
    passed: false,
  };
}

/** A service with its route through Envoy, in the shape the checks take. */
function routedService(service: string): { service: string; path: string; cluster: string; serviceId: string } {
  const route = routeFor(service);
  return { service, path: route.path, cluster: route.cluster, serviceId: route.id };
}

function specOf(state: ServiceState, weights: Readonly<Record<string, number>>): VerifyServiceSpec {
  return {
    ...routedService(state.service),
    // The stack's replicas are identical, so each must get an equal share: a weight or an extra
    // endpoint that skews Envoy's balancing is a finding, not the expectation, unless the weights
    // are the configured ones (xds), which the balance check then holds Envoy to.
    expect: configuredWeights(weights, state.serving),
    replicas: state.serving.map((r) => ({ name: r.name, hostname: r.hostname, ip: r.ip, ...(r.health ? { health: r.health } : {}) })),
    desired: { desired: state.desired, notServing: state.notServing, extras: state.extras, absent: state.absent },
  };
}

/** The load-balancing checks, or a report saying why they could not run. */
async function loadBalancingReport(
  ctx: StageContext,
  states: readonly ServiceState[],
  endpoints: StackEndpoints | undefined,
  whyNoEnvoy: string,
  directory: StackDirectory,
  startedAt: Date,
): Promise<VerifyReport> {
  const specs = states.map((s) => specOf(s, ctx.config.weights));
  if (!endpoints) return errorReportWithoutObservability(specs, whyNoEnvoy, startedAt);
  // xds: a cluster the control plane never delivered (warming, or no CDS at all) is named as such.
  const xds =
    ctx.config.discovery === "xds"
      ? await xdsProblems(
          endpoints.adminUrl,
          specs.map((s) => s.cluster),
        )
      : [];
  if (xds.length > 0) return errorReportWithoutObservability(specs, xds.join("; "), startedAt);
  return runVerify({
    listenerUrl: endpoints.listenerUrl,
    adminUrl: endpoints.adminUrl,
    services: specs,
    concurrency: ctx.config.verify.concurrency,
    namer: directory,
    ...(ctx.config.verify.requests > 0 ? { requests: ctx.config.verify.requests } : {}),
  });
}

function errorReportWithoutObservability(specs: readonly VerifyServiceSpec[], reason: string, startedAt: Date): VerifyReport {
  const r = errorReport(
    specs.map((s) => s.service),
    reason,
    startedAt,
  );
  for (const s of r.services) s.checks = s.checks.filter((c) => c.name !== "metrics" && c.name !== "bytes" && c.name !== "tracing");
  return r;
}

/**
 * The report's panel over the load-balancing load: from the last scrape before it to the scrape
 * the metrics probe waited for after it, so the probe's own requests stay out.
 */
async function loadPanel(
  prometheus: PrometheusClient,
  loadStartedAt: Date,
  scrapedAfter: number,
  services: string[],
): Promise<ObservabilityPanel | null> {
  const warn = (reason: string): void => log.warn(`no Prometheus panel in the report: ${reason}`);
  const last = await attempt(() => prometheus.query(`timestamp(up{job=~"envoy|services"})`, loadStartedAt));
  if (!last.ok || last.value.length === 0) {
    warn(last.ok ? "no scrape before the load" : last.error);
    return null;
  }
  const before = Math.max(...last.value.map((s) => s.value * 1000));
  return observabilityPanelOrNull(prometheus, { ...panelScopeSince(before, scrapedAfter), services }, warn);
}

/**
 * Envoy's two layers per service: L4 connections through its tcp_proxy listener beside the
 * load's one keep-alive L7 connection. Sent after the windows of the report's panel, the metrics
 * and the bytes checks (beside the tracing check, which follows its own traces), because these
 * requests reach the replicas without Envoy's HTTP listener seeing them.
 */
async function addLayers(report: VerifyReport, endpoints: StackEndpoints, states: readonly ServiceState[]): Promise<void> {
  await Promise.all(
    states.map(async (state) => {
      const service = report.services.find((s) => s.service === state.service);
      if (!service || service.requests.sent === 0) return;
      const route = routeFor(state.service);
      const url = endpoints.l4Urls?.[state.service];
      const l4 = url
        ? {
            url,
            probe: await probeL4({
              l4Url: url,
              path: route.path,
              serviceId: route.id,
              connections: l4ConnectionsFor(state.serving.length),
              requestsPerConnection: 4,
            }),
          }
        : { missing: `front-envoy publishes no L4 listener for ${state.service} (container port ${route.tcpPort})` };
      const { check, report: layers } = layersResult(l4, service.perRequest, state.serving);
      if (layers) service.layers = layers;
      addCheck(report, state.service, check);
      log.info(`  ${check.passed ? "PASS" : "FAIL"} ${state.service} layers: ${check.reason}`);
    }),
  );
}

/**
 * gRPC per call (the rpc check): one channel through Envoy's HTTP listener, and one through the
 * service's gRPC L4 listener beside it in the layers view. After the panel's windows, as layers.
 */
async function addRpc(
  ctx: StageContext,
  report: VerifyReport,
  endpoints: StackEndpoints,
  states: readonly ServiceState[],
  directory: StackDirectory,
): Promise<void> {
  await Promise.all(
    states.map(async (state) => {
      const service = report.services.find((s) => s.service === state.service);
      if (!service) return;
      const spec = specOf(state, ctx.config.weights);
      const route = routeFor(state.service);
      const l4 = endpoints.grpcL4Urls?.[state.service];
      const rpc = await probeRpc({
        adminUrl: endpoints.adminUrl,
        target: new URL(endpoints.listenerUrl).host,
        ...(l4 ? { l4Target: new URL(l4).host } : {}),
        service: state.service,
        serviceId: route.id,
        authority: route.grpcAuthority,
        cluster: route.grpcCluster,
        // As many streams on the one channel as the HTTP load has requests in flight.
        streams: ctx.config.verify.concurrency,
        replicas: spec.replicas,
        ...(spec.expect ? { expect: spec.expect } : {}),
        ...(spec.desired ? { desired: spec.desired } : {}),
        namer: directory,
      });
      if (service.layers && rpc.layers) service.layers.grpc = rpc.layers;
      addCheck(report, state.service, rpc.check);
      log.info(`  ${rpc.check.passed ? "PASS" : "FAIL"} ${state.service} rpc: ${rpc.check.reason}`);
    }),
  );
}

/** Every check against the stack; throws only for internal errors and bad input. */
async function proveStack(
  ctx: StageContext,
  desired: Record<string, number>,
  startedAt: Date,
): Promise<Omit<VerifyOutcome, "files" | "table" | "passed">> {
  const { config, locator } = ctx;
  const project = config.projectName;
  const say = (line: string): void => log.info(line);

  say(
    `verify ${project}: reading the desired state (${Object.entries(desired)
      .map(([s, n]) => `${s}=${n}`)
      .join(", ")}) and the stack from ${config.target === "swarm" ? "the swarm's tasks" : "Docker"}`,
  );
  const [states, directory] = await Promise.all([locator.serviceStates(desired), locator.directory()]);
  // Each found on its own: Zipkin missing must not keep the metrics check from running.
  const [envoy, prom, zipkin] = await Promise.all([
    attempt(() => locator.endpoints()),
    attempt(() => locator.publishedUrl("prometheus", 9090)),
    attempt(() => locator.publishedUrl("zipkin", 9411)),
  ]);
  const endpoints = envoy.ok ? envoy.value : undefined;
  const observability: Partial<ObservabilityEndpoints> = {
    ...(prom.ok ? { prometheusUrl: prom.value } : {}),
    ...(zipkin.ok ? { zipkinUrl: zipkin.value } : {}),
  };

  // Prometheus' view of the replicas is awaited alongside the load, never before it.
  const prometheus = prom.ok ? new PrometheusClient(prom.value) : undefined;
  const budget = prom.ok ? prometheusBudget(await prometheusIntervals(prom.value)) : undefined;
  const probed: ProbedService[] = states.map((s) => ({
    ...routedService(s.service),
    replicas: s.serving.map((r) => ({ hostname: r.hostname, ip: r.ip })),
  }));
  if (budget)
    say(`metrics: Prometheus may take up to ${(budget.targetsMs / 1000).toFixed(0)} s to scrape every replica (${budget.explain})`);
  const targetsSettled = prometheus && budget ? replicaTargetsProblem(prometheus, probed, budget) : Promise.resolve(undefined);
  // Zipkin too: deploy does not wait for it (nothing on the request path needs it), so it may
  // still be starting. Its readiness bounds only the tracing check (Docker's health-wait bound).
  const zipkinClient = zipkin.ok ? new ZipkinClient(zipkin.value) : undefined;
  let zipkinAnswered = false;
  const zipkinReady = zipkinClient
    ? attempt(() => zipkinClient.untilHealthy(config.waitTimeoutSeconds * 1000)).then((r) => {
        zipkinAnswered = r.ok;
        return r;
      })
    : undefined;

  const loadStartedAt = new Date();
  const report = await loadBalancingReport(ctx, states, endpoints, envoy.ok ? "" : envoy.error, directory, startedAt);
  const loadEndedAt = new Date();
  // Envoy's listener answered nothing at all (down or frozen): the probes of metrics and tracing
  // would only wait out their timeouts. Their verdicts say why instead.
  const listenerSilent =
    report.services.length > 0 && report.services.every((s) => s.requests.ok === 0 && s.failures.every((f) => f.kind === "transport"));

  const noListener = envoy.ok ? "Envoy's listener did not answer the load-balancing load" : `no Envoy listener (${envoy.error})`;
  // Tracing: its probes are sent (once Zipkin answers) and then followed into Zipkin.
  const couldNotRun = (name: string, why: string): ObservabilityCheckResult[] =>
    states.map((s) => ({ name, service: s.service, passed: false, detail: `could not run: ${why}` }));
  const sendTracing = async (): Promise<() => Promise<ObservabilityCheckResult[]>> => {
    if (!zipkinClient || !zipkinReady || !endpoints || listenerSilent) {
      const why = !endpoints || listenerSilent ? noListener : zipkin.ok ? "" : zipkin.error;
      return async () => couldNotRun("tracing", why);
    }
    const ready = await zipkinReady;
    if (!ready.ok) return async () => couldNotRun("tracing", ready.error);
    const timeoutMs = tracingBudgetMs();
    say(
      `tracing: following each probe's trace into Zipkin (up to ${(timeoutMs / 1000).toFixed(0)} s: Envoy and the service flush spans every 1 s and 0.5 s, plus Zipkin's ingest)`,
    );
    const sent = await attempt(() =>
      sendTracingProbes({
        listenerUrl: endpoints.listenerUrl,
        zipkin: zipkinClient,
        services: probed.map((s) => ({ service: s.service, path: s.path, id: s.serviceId })),
        timeoutMs,
        // Zipkin answered just now (zipkinReady): the same bound if it stops answering meanwhile.
        readyTimeoutMs: config.waitTimeoutSeconds * 1000,
      }),
    );
    if (!sent.ok) return async () => couldNotRun("tracing", `Zipkin: ${sent.error}`);
    return async () => {
      const r = await attempt(() => sent.value.follow());
      return r.ok ? r.value : couldNotRun("tracing", `Zipkin: ${r.error}`);
    };
  };
  // Zipkin already answering: the probes go first, so the metrics check's "before" scrape counts
  // them and Zipkin ingests them while the metrics check waits for Prometheus. Zipkin still
  // starting: after the metrics check, which never waits for Zipkin.
  const tracingEarly = zipkinAnswered ? (await sendTracing())() : undefined;

  // Metrics: the probe's counts in Prometheus, per cluster and per replica.
  const metrics: ObservabilityCheckResult[] = [];
  const bytes: ObservabilityCheckResult[] = [];
  /** When Prometheus had scraped every target after the load-balancing load, before the probe. */
  let probeBefore: number | undefined;
  if (!prometheus || !budget || !endpoints || listenerSilent) {
    const why = !endpoints || listenerSilent ? noListener : prom.ok ? "" : prom.error;
    for (const s of states) metrics.push({ name: "metrics", service: s.service, passed: false, detail: `could not run: ${why}` });
  } else {
    say(
      `metrics: waiting for every replica to be an up scrape target (up to ${(budget.targetsMs / 1000).toFixed(0)} s after the load began)`,
    );
    const targetsProblem = await targetsSettled;
    if (targetsProblem) say(`metrics: ${directory.nameIn(targetsProblem)}`);
    const probe = await attempt(() => metricsProbeCheck(prometheus, endpoints.listenerUrl, probed, budget, say));
    if (probe.ok) {
      metrics.push(...probe.value.results);
      probeBefore = probe.value.before.allScrapedAt;
      // Bytes over the probe's window: from the scrape before it to now, read before the tracing
      // check's requests, while nothing else talks to Envoy's listener.
      const window = await observabilityPanelOrNull(
        prometheus,
        { ...panelScopeSince(probe.value.before.allScrapedAt), services: states.map((s) => s.service) },
        (reason) => log.warn(`bytes: no Prometheus panel over the probe: ${reason}`),
      );
      bytes.push(...bytesCheck(window, probe.value.bytes));
    } else {
      for (const s of states)
        metrics.push({ name: "metrics", service: s.service, passed: false, detail: `could not run: Prometheus: ${probe.error}` });
    }
  }
  for (const m of metrics) if (m.detail.startsWith("could not run")) bytes.push({ ...m, name: "bytes" });
  const prometheusAnswers = metrics.some((m) => !m.detail.startsWith("could not run"));

  // The panel illustrates the run and decides nothing; tracing follows its own probes in Zipkin;
  // the layers probe runs beside it, after the windows of the panel, metrics and bytes.
  const [panel, tracing] = await Promise.all([
    prometheus && prometheusAnswers && probeBefore !== undefined
      ? loadPanel(
          prometheus,
          loadStartedAt,
          probeBefore,
          states.map((s) => s.service),
        )
      : Promise.resolve(null),
    tracingEarly ?? sendTracing().then((follow) => follow()),
    endpoints && !listenerSilent ? addLayers(report, endpoints, states) : Promise.resolve(),
  ]);
  if (endpoints && !listenerSilent) await addRpc(ctx, report, endpoints, states, directory);
  for (const r of [...metrics, ...bytes, ...tracing]) {
    if (r.service) addCheck(report, r.service, asCheck(r, directory));
    log.info(`  ${r.passed ? "PASS" : "FAIL"} ${r.service ?? ""} ${r.name}: ${directory.nameIn(r.detail)}`);
  }
  report.observability = panel;
  report.afterLoadSeconds = (Date.now() - loadEndedAt.getTime()) / 1000;
  log.info(`verify: verdict ${report.afterLoadSeconds.toFixed(1)} s after the load-balancing load`);
  return { report, endpoints, observability };
}

export async function verifyStack(ctx: StageContext, opts: VerifyStackOptions = {}): Promise<VerifyOutcome> {
  const { config } = ctx;
  const desired = Object.fromEntries(Object.entries(opts.desired ?? config.scale).filter(([, replicas]) => replicas > 0));
  const startedAt = new Date();
  await clearReports(config.reportDir);
  let outcome: Omit<VerifyOutcome, "files" | "table" | "passed">;
  try {
    outcome = await proveStack(ctx, desired, startedAt);
  } catch (err) {
    // Docker itself failing, or a bug: the reports still say so, check by check.
    const reason = reasonOf(err);
    log.warn(`verify could not look at the stack: ${reason}`);
    if (process.env.ENVOY_PIPELINE_DEBUG && err instanceof Error && err.stack) log.info(err.stack);
    outcome = { report: errorReport(Object.keys(desired), reason, startedAt), endpoints: undefined, observability: {} };
  }
  let report = outcome.report;
  for (const [service, result] of Object.entries(opts.convergence ?? {})) {
    if (report.services.some((s) => s.service === service)) report = withConvergence(report, service, result);
  }
  report = finish(report);
  const files = await writeReports(report, config.reportDir);
  return { ...outcome, report, passed: report.passed, table: formatReport(report), files };
}

/** The `verify` command: tables on stdout (or the JSON report); exit 0 only if all passed, else 1. */
/**
 * The verify command on its own. Without `--scale` (or ENVOY_PIPELINE_SCALE) it checks the stack
 * against what deploy or scale last applied to it, else the config's scale.
 */
export async function runVerifyStage(ctx: StageContext, opts: { json: boolean; scaleGiven: boolean }): Promise<number> {
  const applied = opts.scaleGiven ? undefined : await ctx.locator.appliedScale();
  if (applied)
    log.info(
      `verify: desired state as last applied to the stack: ${Object.entries(applied)
        .map(([s, n]) => `${s}=${n}`)
        .join(", ")} (--scale checks against another)`,
    );
  const outcome = await verifyStack(ctx, applied ? { desired: applied } : {});
  if (opts.json) process.stdout.write(`${JSON.stringify(outcome.report, null, 2)}\n`);
  else process.stdout.write(`${outcome.table}\n`);
  log.info(`reports: ${Object.values(outcome.files).join(", ")}`);
  return outcome.passed ? 0 : 1;
}
