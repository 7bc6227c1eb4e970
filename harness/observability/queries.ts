// Every PromQL the harness asks Prometheus, in one place (sources and windows: docs/observability.md).

export const SERVICE_ROUTE = "/service/:id";
/** The HTTP connection manager's stat_prefix in envoy/envoy.yaml. */
export const INGRESS_PREFIX = "ingress_http";

export interface QueryScope {
  /** Range of rate()/increase(), a PromQL duration such as "30s" or "5m". Default "1m". */
  window?: string;
  /** Only these services (service label) / Envoy clusters. Default: all. */
  services?: readonly string[];
  /** The route label to count (default "/service/:id"); null counts every route. */
  route?: string | null;
}

/** PromQL string literal (double-quoted, escaped). */
export function quote(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** A regex matcher value for an exact alternation of literal values (RE2 metacharacters escaped). */
export function alternation(values: readonly string[]): string {
  return quote(values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"));
}

const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;

function windowOf(scope: QueryScope): string {
  const w = scope.window ?? "1m";
  if (!DURATION.test(w)) throw new Error(`query window '${w}' is not a PromQL duration (e.g. 30s, 5m)`);
  return w;
}

function selector(matchers: (string | undefined)[]): string {
  return `{${matchers.filter((m): m is string => m !== undefined).join(",")}}`;
}

/** Label matchers for the services' series in a scope (plus `extra`). */
export function serviceSelector(scope: QueryScope = {}, extra: string[] = [], serviceLabel = "service"): string {
  const route = scope.route === undefined ? SERVICE_ROUTE : scope.route;
  return selector([
    `job="services"`,
    route === null ? undefined : `route=${quote(route)}`,
    scope.services ? `${serviceLabel}=~${alternation(scope.services)}` : undefined,
    ...extra,
  ]);
}

/** Label matchers for Envoy's cluster series in a scope. */
export function clusterSelector(scope: QueryScope = {}): string {
  return selector([
    `job="envoy"`,
    scope.services ? `envoy_cluster_name=~${alternation(scope.services)}` : `envoy_cluster_name=~"service.*"`,
  ]);
}

const ingress = selector([`job="envoy"`, `envoy_http_conn_manager_prefix=${quote(INGRESS_PREFIX)}`]);
const envoyJob = selector([`job="envoy"`]);

export type Grouping = "service" | "replica";
const by = (g: Grouping, ...more: string[]): string => [...(g === "replica" ? ["service", "replica"] : ["service"]), ...more].join(", ");

// ---- Per service and per replica (the replicas' own metrics) ----

/** Requests answered so far (absolute counter), per service or replica. */
export const requestsTotal = (s: QueryScope = {}, g: Grouping = "replica"): string =>
  `sum by (${by(g)}) (http_requests_total${serviceSelector(s)})`;

/** Requests answered during the window. */
export const requestsIncrease = (s: QueryScope = {}, g: Grouping = "replica"): string =>
  `sum by (${by(g)}) (increase(http_requests_total${serviceSelector(s)}[${windowOf(s)}]))`;

/** Requests per second over the window. */
export const requestRate = (s: QueryScope = {}, g: Grouping = "replica"): string =>
  `sum by (${by(g)}) (rate(http_requests_total${serviceSelector(s)}[${windowOf(s)}]))`;

/** Latency quantile (seconds) from the http_request_duration_seconds histogram. */
export const latencyQuantile = (q: number, s: QueryScope = {}, g: Grouping = "replica"): string => {
  if (!(q >= 0 && q <= 1)) throw new Error(`quantile ${q} is not in [0, 1]`);
  return `histogram_quantile(${q}, sum by (${by(g, "le")}) (rate(http_request_duration_seconds_bucket${serviceSelector(s)}[${windowOf(s)}])))`;
};

/** Mean latency (seconds) over the window. */
export const latencyMean = (s: QueryScope = {}, g: Grouping = "replica"): string =>
  `sum by (${by(g)}) (rate(http_request_duration_seconds_sum${serviceSelector(s)}[${windowOf(s)}])) / sum by (${by(g)}) (rate(http_request_duration_seconds_count${serviceSelector(s)}[${windowOf(s)}]))`;

/**
 * Share of answers that were 5xx over the window (0 when there were none; NaN without traffic).
 * The `or ... * 0` keeps groups that had no error at all, which a plain division would drop.
 */
export const errorRatio = (s: QueryScope = {}, g: Grouping = "replica"): string => {
  const all = `sum by (${by(g)}) (rate(http_requests_total${serviceSelector(s)}[${windowOf(s)}]))`;
  const errors = `sum by (${by(g)}) (rate(http_requests_total${serviceSelector(s, ['status_class="5xx"'])}[${windowOf(s)}]))`;
  return `(${errors} or ${all} * 0) / ${all}`;
};

/** Answers per status class (2xx, 4xx, 5xx, ...) during the window. */
export const statusClasses = (s: QueryScope = {}, g: Grouping = "replica"): string =>
  `sum by (${by(g, "status_class")}) (increase(http_requests_total${serviceSelector(s)}[${windowOf(s)}]))`;

/** Request body bytes received during the window. */
export const bytesReceived = (s: QueryScope = {}, g: Grouping = "replica"): string =>
  `sum by (${by(g)}) (increase(http_request_size_bytes_total${serviceSelector(s)}[${windowOf(s)}]))`;

/** Response body bytes sent during the window. */
export const bytesSent = (s: QueryScope = {}, g: Grouping = "replica"): string =>
  `sum by (${by(g)}) (increase(http_response_size_bytes_total${serviceSelector(s)}[${windowOf(s)}]))`;

// ---- Envoy's own ----

/** Envoy's CPU use, percent of the container's CPU share (overload manager cpu_utilization, smoothed). */
export const envoyCpuPercent = (): string => `max(envoy_overload_envoy_resource_monitors_cpu_utilization_pressure${envoyJob})`;

/** Bytes Envoy's allocator has handed out. */
export const envoyMemoryAllocated = (): string => `max(envoy_server_memory_allocated${envoyJob})`;

/** Bytes of heap Envoy holds from the OS (physical size, incl. fragmentation and caches). */
export const envoyMemoryPhysical = (): string => `max(envoy_server_memory_physical_size${envoyJob})`;

/** Client TCP connections open on the front listener. */
export const envoyDownstreamConnections = (): string => `sum(envoy_http_downstream_cx_active${ingress})`;

/** New client TCP connections per second. */
export const envoyDownstreamConnectionRate = (s: QueryScope = {}): string =>
  `sum(rate(envoy_http_downstream_cx_total${ingress}[${windowOf(s)}]))`;

/** TCP connections open from Envoy to each cluster's replicas. */
export const envoyUpstreamConnections = (s: QueryScope = {}): string =>
  `sum by (envoy_cluster_name) (envoy_cluster_upstream_cx_active${clusterSelector(s)})`;

/** Bandwidth from clients into Envoy, bytes per second. */
export const envoyDownstreamRxBytesRate = (s: QueryScope = {}): string =>
  `sum(rate(envoy_http_downstream_cx_rx_bytes_total${ingress}[${windowOf(s)}]))`;

/** Bandwidth from Envoy back to clients, bytes per second. */
export const envoyDownstreamTxBytesRate = (s: QueryScope = {}): string =>
  `sum(rate(envoy_http_downstream_cx_tx_bytes_total${ingress}[${windowOf(s)}]))`;

/** Bandwidth from Envoy to each cluster, bytes per second. */
export const envoyUpstreamTxBytesRate = (s: QueryScope = {}): string =>
  `sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_cx_tx_bytes_total${clusterSelector(s)}[${windowOf(s)}]))`;

/** Bandwidth from each cluster back to Envoy, bytes per second. */
export const envoyUpstreamRxBytesRate = (s: QueryScope = {}): string =>
  `sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_cx_rx_bytes_total${clusterSelector(s)}[${windowOf(s)}]))`;

/** Requests per second on the front listener (all routes, incl. 404s). */
export const envoyRequestRate = (s: QueryScope = {}): string => `sum(rate(envoy_http_downstream_rq_total${ingress}[${windowOf(s)}]))`;

/** Requests per second Envoy sent to each cluster. */
export const envoyClusterRequestRate = (s: QueryScope = {}): string =>
  `sum by (envoy_cluster_name) (rate(envoy_cluster_upstream_rq_total${clusterSelector(s)}[${windowOf(s)}]))`;

/** Upstream answers per status class (envoy_response_code_class 2, 4, 5) and cluster, during the window. */
export const envoyClusterStatusClasses = (s: QueryScope = {}): string =>
  `sum by (envoy_cluster_name, envoy_response_code_class) (increase(envoy_cluster_upstream_rq_xx${clusterSelector(s)}[${windowOf(s)}]))`;

/** Upstream latency quantile per cluster, milliseconds (Envoy's upstream_rq_time histogram). */
export const envoyClusterLatencyQuantileMs = (q: number, s: QueryScope = {}): string => {
  if (!(q >= 0 && q <= 1)) throw new Error(`quantile ${q} is not in [0, 1]`);
  return `histogram_quantile(${q}, sum by (envoy_cluster_name, le) (rate(envoy_cluster_upstream_rq_time_bucket${clusterSelector(s)}[${windowOf(s)}])))`;
};

// ---- Absolute counters for the metrics check (before/after snapshots) ----

/** Requests per replica as the replicas count them, grouped by the DNS name Prometheus found them under. */
export const snapshotReplicaRequests = (s: QueryScope = {}): string =>
  `sum by (compose_service, replica, instance) (http_requests_total${serviceSelector(s, [], "compose_service")})`;

/** Upstream requests per Envoy cluster (every attempt, retries included). */
export const snapshotClusterRequests = (s: QueryScope = {}): string =>
  `sum by (envoy_cluster_name) (envoy_cluster_upstream_rq_total${clusterSelector(s)})`;

/** Retries per Envoy cluster (each one is an extra upstream request). */
export const snapshotClusterRetries = (s: QueryScope = {}): string =>
  `sum by (envoy_cluster_name) (envoy_cluster_upstream_rq_retry${clusterSelector(s)})`;

// ---- The catalogue: every question Prometheus must answer, for docs and the integration test ----

export interface CatalogueEntry {
  id: string;
  /** The question it answers. */
  question: string;
  unit: string;
  /** "service"/"replica": one sample per service/replica; "envoy": Envoy-wide; "cluster": per Envoy cluster. */
  per: "service" | "replica" | "envoy" | "cluster";
  promql: string;
}

export function queryCatalogue(scope: QueryScope = {}): CatalogueEntry[] {
  const entries: CatalogueEntry[] = [];
  for (const g of ["service", "replica"] as const) {
    entries.push(
      {
        id: `requests_total_per_${g}`,
        question: `requests answered so far, per ${g}`,
        unit: "requests",
        per: g,
        promql: requestsTotal(scope, g),
      },
      {
        id: `requests_per_${g}`,
        question: `requests answered in the window, per ${g}`,
        unit: "requests",
        per: g,
        promql: requestsIncrease(scope, g),
      },
      { id: `request_rate_per_${g}`, question: `requests per second, per ${g}`, unit: "req/s", per: g, promql: requestRate(scope, g) },
      { id: `latency_p50_per_${g}`, question: `median latency, per ${g}`, unit: "s", per: g, promql: latencyQuantile(0.5, scope, g) },
      {
        id: `latency_p99_per_${g}`,
        question: `99th percentile latency, per ${g}`,
        unit: "s",
        per: g,
        promql: latencyQuantile(0.99, scope, g),
      },
      { id: `latency_mean_per_${g}`, question: `mean latency, per ${g}`, unit: "s", per: g, promql: latencyMean(scope, g) },
      { id: `error_ratio_per_${g}`, question: `share of 5xx answers, per ${g}`, unit: "ratio", per: g, promql: errorRatio(scope, g) },
      {
        id: `status_classes_per_${g}`,
        question: `answers per status class, per ${g}`,
        unit: "requests",
        per: g,
        promql: statusClasses(scope, g),
      },
      {
        id: `bytes_received_per_${g}`,
        question: `request bytes received, per ${g}`,
        unit: "bytes",
        per: g,
        promql: bytesReceived(scope, g),
      },
      { id: `bytes_sent_per_${g}`, question: `response bytes sent, per ${g}`, unit: "bytes", per: g, promql: bytesSent(scope, g) },
    );
  }
  entries.push(
    { id: "envoy_cpu_percent", question: "Envoy's CPU use", unit: "%", per: "envoy", promql: envoyCpuPercent() },
    { id: "envoy_memory_allocated", question: "Envoy's allocated memory", unit: "bytes", per: "envoy", promql: envoyMemoryAllocated() },
    { id: "envoy_memory_physical", question: "Envoy's heap held from the OS", unit: "bytes", per: "envoy", promql: envoyMemoryPhysical() },
    {
      id: "envoy_downstream_connections",
      question: "client TCP connections open on Envoy",
      unit: "connections",
      per: "envoy",
      promql: envoyDownstreamConnections(),
    },
    {
      id: "envoy_downstream_connection_rate",
      question: "new client TCP connections per second",
      unit: "conn/s",
      per: "envoy",
      promql: envoyDownstreamConnectionRate(scope),
    },
    {
      id: "envoy_upstream_connections",
      question: "TCP connections from Envoy to each cluster",
      unit: "connections",
      per: "cluster",
      promql: envoyUpstreamConnections(scope),
    },
    {
      id: "envoy_downstream_rx_bytes_rate",
      question: "bandwidth clients → Envoy",
      unit: "B/s",
      per: "envoy",
      promql: envoyDownstreamRxBytesRate(scope),
    },
    {
      id: "envoy_downstream_tx_bytes_rate",
      question: "bandwidth Envoy → clients",
      unit: "B/s",
      per: "envoy",
      promql: envoyDownstreamTxBytesRate(scope),
    },
    {
      id: "envoy_upstream_tx_bytes_rate",
      question: "bandwidth Envoy → each cluster",
      unit: "B/s",
      per: "cluster",
      promql: envoyUpstreamTxBytesRate(scope),
    },
    {
      id: "envoy_upstream_rx_bytes_rate",
      question: "bandwidth each cluster → Envoy",
      unit: "B/s",
      per: "cluster",
      promql: envoyUpstreamRxBytesRate(scope),
    },
    {
      id: "envoy_request_rate",
      question: "requests per second on Envoy's listener",
      unit: "req/s",
      per: "envoy",
      promql: envoyRequestRate(scope),
    },
    {
      id: "envoy_cluster_request_rate",
      question: "requests per second to each cluster",
      unit: "req/s",
      per: "cluster",
      promql: envoyClusterRequestRate(scope),
    },
    {
      id: "envoy_cluster_status_classes",
      question: "upstream answers per status class and cluster",
      unit: "requests",
      per: "cluster",
      promql: envoyClusterStatusClasses(scope),
    },
    {
      id: "envoy_cluster_latency_p99_ms",
      question: "99th percentile upstream latency per cluster",
      unit: "ms",
      per: "cluster",
      promql: envoyClusterLatencyQuantileMs(0.99, scope),
    },
  );
  return entries;
}
