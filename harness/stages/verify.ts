// verify: the load-balancing proof against the deployed stack. Replicas come from Docker, the
// policy and counters from Envoy's admin API; the verdict, tables and reports from harness/verify.
import { log } from "../log.ts";
import { runningReplicas, stackEndpoints, type StackEndpoints } from "../stack/discover.ts";
import { routeFor } from "../stack/routes.ts";
import { formatReport, writeReports, type WrittenReports } from "../verify/report.ts";
import { runVerify } from "../verify/run.ts";
import type { VerifyReport } from "../verify/schema.ts";
import type { StageContext } from "./context.ts";

export interface VerifyOutcome {
  passed: boolean;
  report: VerifyReport;
  /** The terminal tables and one verdict line per check. */
  table: string;
  endpoints: StackEndpoints;
  files: WrittenReports;
}

export async function verifyStack(ctx: StageContext): Promise<VerifyOutcome> {
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
  const report = await runVerify({
    listenerUrl: endpoints.listenerUrl,
    adminUrl: endpoints.adminUrl,
    services,
    concurrency: config.verify.concurrency,
    ...(config.verify.requests > 0 ? { requests: config.verify.requests } : {}),
  });
  const files = await writeReports(report, config.reportDir);
  return { passed: report.passed, report, table: formatReport(report), endpoints, files };
}

/** The `verify` command: tables on stderr (or the JSON report on stdout); exit 0 only if all passed. */
export async function runVerifyStage(ctx: StageContext, opts: { json: boolean }): Promise<number> {
  const outcome = await verifyStack(ctx);
  if (opts.json) process.stdout.write(`${JSON.stringify(outcome.report, null, 2)}\n`);
  else process.stdout.write(`${outcome.table}\n`);
  log.info(`reports: ${Object.values(outcome.files).join(", ")}`);
  return outcome.passed ? 0 : 1;
}
