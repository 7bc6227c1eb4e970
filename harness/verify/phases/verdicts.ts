// Observability verdicts as checks of the report, and the report's last additions.
import { log } from "../../lib/log.ts";
import type { ObservabilityCheckResult } from "../../observability/index.ts";
import type { ObservabilityPanel } from "../../observability/report.ts";
import type { StackDirectory } from "../../stack/directory.ts";
import type { CheckResult, ServiceReport, VerifyReport } from "../schema.ts";

/** The same "could not run" verdict for every service. */
export function couldNotRun(name: string, services: readonly { service: string }[], why: string): ObservabilityCheckResult[] {
  return services.map((s) => ({ name, service: s.service, passed: false, detail: `could not run: ${why}` }));
}

/** An observability verdict as a check of the report, every address in it named by container. */
function asCheck(r: ObservabilityCheckResult, directory: StackDirectory): CheckResult {
  return {
    name: r.name === "tracing" || r.name === "bytes" ? r.name : "metrics",
    passed: r.passed,
    reason: directory.nameIn(r.detail),
    culprits: [],
    details: Object.entries(r.metrics ?? {}).map(([k, v]) => `${k} = ${v}`),
  };
}

export function addCheck(report: VerifyReport, service: string, check: CheckResult): void {
  const s = report.services.find((x) => x.service === service);
  if (!s) return;
  s.checks.push(check);
  s.passed = s.checks.every((c) => c.passed);
}

/** One service's layers verdict (and its report, when the probe ran). */
export interface LayersVerdict {
  service: string;
  check: CheckResult;
  layers?: ServiceReport["layers"];
}

/** One service's rpc verdict (and its gRPC row of the layers view, when the probe ran). */
export interface RpcVerdict {
  service: string;
  check: CheckResult;
  grpc?: NonNullable<ServiceReport["layers"]>["grpc"];
}

export interface Verdicts {
  layers: readonly LayersVerdict[];
  rpc: readonly RpcVerdict[];
  observability: readonly ObservabilityCheckResult[];
  panel: ObservabilityPanel | null;
  loadEndedAt: Date;
}

/** Adds the later phases' verdicts and the panel to the load phase's report. */
export function addVerdicts(report: VerifyReport, v: Verdicts, directory: StackDirectory): VerifyReport {
  for (const l of v.layers) {
    const service = report.services.find((s) => s.service === l.service);
    if (service && l.layers) service.layers = l.layers;
    addCheck(report, l.service, l.check);
  }
  for (const r of v.rpc) {
    const service = report.services.find((s) => s.service === r.service);
    if (service?.layers && r.grpc) service.layers.grpc = r.grpc;
    addCheck(report, r.service, r.check);
  }
  for (const r of v.observability) {
    if (r.service) addCheck(report, r.service, asCheck(r, directory));
    log.info(`  ${r.passed ? "PASS" : "FAIL"} ${r.service ?? ""} ${r.name}: ${directory.nameIn(r.detail)}`);
  }
  report.observability = v.panel;
  report.afterLoadSeconds = (Date.now() - v.loadEndedAt.getTime()) / 1000;
  log.info(`verify: verdict ${report.afterLoadSeconds.toFixed(1)} s after the load-balancing load`);
  return report;
}
