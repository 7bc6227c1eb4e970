// verify: the load-balancing proof against the deployed stack. Replicas come from Docker, the
// policy and counters from Envoy's admin API; the verdict, tables and reports from harness/verify.
import { log } from "../log.ts";
import {
  metricsCheck,
  observabilityEndpoints,
  PrometheusClient,
  takeMetricsSnapshot,
  tracingCheck,
  waitForReplicaTargets,
  ZipkinClient,
  type ObservabilityCheckResult,
  type ObservabilityEndpoints,
  type SentTraffic,
} from "../observability/index.ts";
import { bytesCheck, type VerifierBytes } from "../observability/bytes-check.ts";
import { observabilityPanelOrNull, panelScopeSince } from "../observability/report.ts";
import { runningReplicas, stackEndpoints, type StackEndpoints } from "../stack/discover.ts";
import { routeFor } from "../stack/routes.ts";
import { formatReport, writeReports, type WrittenReports } from "../verify/report.ts";
import { withConvergence, type ConvergenceResult } from "../verify/convergence.ts";
import { runVerify } from "../verify/run.ts";
import type { VerifyReport } from "../verify/schema.ts";
import type { StageContext } from "./context.ts";

export interface VerifyOutcome {
  passed: boolean;
  report: VerifyReport;
  /** The terminal tables and one verdict line per check. */
  table: string;
  endpoints: StackEndpoints;
  observability: ObservabilityEndpoints;
  files: WrittenReports;
}

/** What the harness sent each service during the load, for the metrics check. */
function sentTraffic(report: VerifyReport): SentTraffic[] {
  return report.services.map((s) => {
    const perReplica: Record<string, number> = {};
    for (const r of s.replicas) perReplica[r.hostname] = (perReplica[r.hostname] ?? 0) + r.count;
    for (const [hostname, n] of Object.entries(s.perRequest.seen)) perReplica[hostname] = (perReplica[hostname] ?? 0) + n;
    return {
      service: s.service,
      cluster: s.cluster,
      total: s.requests.sent + s.perRequest.requests,
      perReplica,
      replicas: s.replicas.filter((r) => r.expected && r.dockerIp !== null).map((r) => ({ hostname: r.hostname, ip: r.dockerIp ?? "" })),
    };
  });
}

/** What the verifier counted in bytes per service, for the bytes check. */
function verifierBytes(report: VerifyReport): VerifierBytes[] {
  return report.services.flatMap((s) =>
    s.bytes ? [{ service: s.service, cluster: s.cluster, wire: { sent: s.bytes.wireSent, received: s.bytes.wireReceived }, bodySent: s.bytes.bodySent, bodyReceivedPerReplica: s.bytes.bodyReceivedPerReplica }] : [],
  );
}

/** Adds the metrics and tracing verdicts to each service's checks, and recomputes the verdicts. */
function foldObservability(report: VerifyReport, results: readonly ObservabilityCheckResult[]): void {
  for (const result of results) {
    const service = report.services.find((s) => s.service === result.service);
    if (!service) continue;
    service.checks.push({
      name: result.name === "tracing" || result.name === "bytes" ? result.name : "metrics",
      passed: result.passed,
      reason: result.detail,
      culprits: [],
      details: Object.entries(result.metrics ?? {}).map(([k, v]) => `${k} = ${v}`),
    });
    service.passed = service.checks.every((c) => c.passed);
  }
  report.passed = report.services.every((s) => s.passed);
}

export interface VerifyStackOptions {
  /** Convergence measured by the scale stage (scaleMeasured), added as each service's check. */
  convergence?: Record<string, ConvergenceResult>;
}

export async function verifyStack(ctx: StageContext, opts: VerifyStackOptions = {}): Promise<VerifyOutcome> {
  const { config, docker } = ctx;
  const endpoints = await stackEndpoints(docker, config.projectName);
  const services = await Promise.all(
    Object.entries(config.scale)
      .filter(([, replicas]) => replicas > 0)
      .map(async ([service]) => {
        const route = routeFor(service);
        const replicas = await runningReplicas(docker, config.projectName, service);
        return {
          service,
          path: route.path,
          cluster: route.cluster,
          serviceId: route.id,
          // The stack's replicas are identical, so each must get an equal share: a weight or an
          // extra endpoint that skews Envoy's balancing is a finding, not the expectation.
          expect: "uniform" as const,
          replicas: replicas.map((r) => ({ name: r.name, hostname: r.hostname, ip: r.ip })),
        };
      }),
  );
  const observability = await observabilityEndpoints(docker, config.projectName);
  const prometheus = new PrometheusClient(observability.prometheusUrl);
  // Right after a scale, Prometheus' DNS discovery may not list a new replica yet: its "before"
  // would read as missing (zero) and the requests it answered while Envoy converged would count as
  // the load's. Wait until every running replica is a scrape target first.
  await waitForReplicaTargets(
    prometheus,
    Object.fromEntries(services.map((s) => [s.service, s.replicas.map((r) => r.ip)])),
    { timeoutMs: config.waitTimeoutSeconds * 1000 },
  );
  // Prometheus' counts before the load, so the metrics check compares increases.
  const before = await takeMetricsSnapshot(prometheus, { services: services.map((s) => s.service) });
  let report = await runVerify({
    listenerUrl: endpoints.listenerUrl,
    adminUrl: endpoints.adminUrl,
    services,
    concurrency: config.verify.concurrency,
    ...(config.verify.requests > 0 ? { requests: config.verify.requests } : {}),
  });
  const loadEndedAt = new Date();
  // Metrics first: the tracing check's own requests must not fall into the load's window.
  const metrics = await metricsCheck(prometheus, { before, sent: sentTraffic(report), loadEndedAt });
  // The report's "From Prometheus" panel over the run: from the snapshot's samples to a scrape after
  // the load (the metrics check waited for it), read before the tracing check's requests. It
  // illustrates the report and decides nothing: when it cannot be built the report says null.
  const panel = await observabilityPanelOrNull(prometheus, { ...panelScopeSince(before.allScrapedAt), services: services.map((s) => s.service) }, (reason) =>
    log.warn(`no Prometheus panel in the report: ${reason}`),
  );
  const bytes = bytesCheck(panel, verifierBytes(report));
  const tracing = await tracingCheck({
    listenerUrl: endpoints.listenerUrl,
    zipkin: new ZipkinClient(observability.zipkinUrl),
    services: services.map((s) => ({ service: s.service, path: s.path, id: s.serviceId })),
  });
  foldObservability(report, [...metrics, ...bytes, ...tracing]);
  for (const [service, result] of Object.entries(opts.convergence ?? {})) {
    if (report.services.some((s) => s.service === service)) report = withConvergence(report, service, result);
  }
  for (const r of [...metrics, ...bytes, ...tracing]) log.info(`  ${r.passed ? "PASS" : "FAIL"} ${r.service ?? ""} ${r.name}: ${r.detail}`);
  report.observability = panel;
  const files = await writeReports(report, config.reportDir);
  return { passed: report.passed, report, table: formatReport(report), endpoints, observability, files };
}

/** The `verify` command: tables on stderr (or the JSON report on stdout); exit 0 only if all passed. */
export async function runVerifyStage(ctx: StageContext, opts: { json: boolean }): Promise<number> {
  const outcome = await verifyStack(ctx);
  if (opts.json) process.stdout.write(`${JSON.stringify(outcome.report, null, 2)}\n`);
  else process.stdout.write(`${outcome.table}\n`);
  log.info(`reports: ${Object.values(outcome.files).join(", ")}`);
  return outcome.passed ? 0 : 1;
}
