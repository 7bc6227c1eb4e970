// The verify stage's public API: prove, with numbers, that Envoy spreads requests over every
// replica of each service.
//
//   const report = await runVerify({ listenerUrl, adminUrl, services: [{ service, path, cluster, replicas }] });
//   console.log(formatReport(report));
//   await writeReports(report, dir);           // verify.json, junit.xml, verify.html
//   process.exitCode = report.passed ? 0 : 1;
export { runVerify, plannedRequests, serviceIdFromPath, type VerifyOptions, type VerifyServiceSpec } from "./run.ts";
export { formatReport, toHtml, toJUnit, writeReports, type WrittenReports } from "./report.ts";
export {
  measureConvergence,
  withConvergence,
  type ConvergenceOptions,
  type ConvergenceResult,
  type ConvergenceRound,
} from "./convergence.ts";
export type { WeightExpectation } from "./checks/index.ts";
export {
  verifyReportSchema,
  serviceReportSchema,
  replicaInfoSchema,
  serviceResponseSchema,
  VerifyInputError,
  type VerifyReport,
  type ServiceReport,
  type ReplicaReport,
  type BalanceReport,
  type CheckResult,
  type CheckName,
  type ReplicaInfo,
  type ServiceResponse,
} from "./schema.ts";
