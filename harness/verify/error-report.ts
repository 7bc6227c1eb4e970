// Reports for when checks could not run, and the last touch every report gets (verdicts, times).
import { routeFor } from "../stack/routes.ts";
import type { VerifyReport } from "./schema.ts";
import { unavailableCheck, unrunServiceReport } from "./unrun.ts";

const OBSERVABILITY_CHECKS: ReadonlySet<string> = new Set(["metrics", "bytes", "tracing"]);

/** A report in which nothing could run: every check of every service fails with `reason`. */
export function errorReport(services: readonly string[], reason: string, startedAt: Date): VerifyReport {
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

/** errorReport without the observability checks, which the later phases add with their own reasons. */
export function loadErrorReport(services: readonly string[], reason: string, startedAt: Date): VerifyReport {
  const r = errorReport(services, reason, startedAt);
  for (const s of r.services) s.checks = s.checks.filter((c) => !OBSERVABILITY_CHECKS.has(c.name));
  return r;
}

/** The report's verdicts from its checks, and its end time. */
export function finish(report: VerifyReport): VerifyReport {
  for (const s of report.services) s.passed = s.checks.every((c) => c.passed);
  report.passed = report.services.length > 0 && report.services.every((s) => s.passed);
  report.finishedAt = new Date().toISOString();
  report.durationSeconds = (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000;
  return report;
}
