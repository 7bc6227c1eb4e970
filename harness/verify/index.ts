// The verify stage's public API: prove, with numbers, that Envoy spreads requests over every replica of each
// service.
// Design notes: docs/verify.md ("verify/index.ts").
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
