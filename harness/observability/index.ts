// Observability of the stack: Prometheus metrics and Zipkin traces, the checks that prove them,
// and the data for the report's panel. See docs/observability.md.
export { bytesCheck, type VerifierBytes } from "./bytes-check.ts";
export { observabilityEndpoints, type ObservabilityEndpoints } from "./endpoints.ts";
export {
  compareMetrics,
  metricsCheck,
  takeMetricsSnapshot,
  type MetricsCheckOptions,
  type MetricsSnapshot,
  type ReplicaRef,
  type SentTraffic,
  type ServiceVerdict,
} from "./metrics-check.ts";
export { PrometheusClient, type Sample, type ScrapeTarget } from "./prometheus.ts";
export * as queries from "./queries.ts";
export { observabilityPanel, observabilityPanelSchema, type ObservabilityPanel } from "./report.ts";
export { waitForReplicaTargets } from "./targets.ts";
export {
  metricsProbeCheck,
  probeRequests,
  replicaTargetsProblem,
  type ProbedService,
  type ProbeTraffic,
  type SendProbe,
} from "./metrics-probe.ts";
export { prometheusBudget, prometheusIntervals, tracingBudgetMs, type WaitBudget } from "./wait-budget.ts";
export { isProbeSpan, PROBE_PATHS, traceNoise, type TraceNoise } from "./trace-noise.ts";
export {
  evaluateTrace,
  sendTracedRequest,
  sendTracingProbes,
  tracingCheck,
  type TraceKind,
  type TracingCheckOptions,
  type TracedService,
} from "./tracing-check.ts";
export { ObservabilityError, type ObservabilityCheckResult } from "./types.ts";
export { ZipkinClient, type TraceQuery, type ZipkinSpan } from "./zipkin.ts";
