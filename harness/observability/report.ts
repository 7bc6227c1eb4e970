// Data for the verify report's observability panel, from Prometheus: per service and replica, and
// Envoy's own numbers (why counts are counter growth, not increase(): docs/observability.md).
import { z } from "zod";
import { errorMessage } from "../lib/errors.ts";
import type { PrometheusClient, Sample } from "./prometheus.ts";
import {
  clusterSelector,
  envoyCpuPercent,
  envoyDownstreamConnections,
  envoyMemoryAllocated,
  INGRESS_PREFIX,
  quote,
  serviceSelector,
  type Grouping,
  type QueryScope,
} from "./queries.ts";

const num = z.number().nullable();
const latencySchema = z.object({ p50: num, p90: num, p99: num });
/** Bytes during the window and the average bandwidth (bytes / the window's seconds). */
const bytesSchema = z.object({ in: num, out: num, inPerSecond: num, outPerSecond: num });
export type PanelBytes = z.infer<typeof bytesSchema>;

const rowSchema = z.object({
  /** Answers in the window (counter growth; null: no series). */
  requests: num,
  /** requests / the window's seconds. */
  requestsPerSecond: num,
  /** Share of 5xx answers (0..1); null without answers. */
  errorRatio: num,
  /** Seconds, from the growth of the latency histogram's buckets. */
  latency: latencySchema,
  /** Answers per class, e.g. { "2xx": 300, "5xx": 2 }. */
  statusClasses: z.record(z.string(), z.number()),
  /**
   * Body bytes the replicas received (in) and sent (out) on the service route, from their
   * http_request_size_bytes / http_response_size_bytes counters. Optional: reports written before
   * it existed stay valid.
   */
  bytes: bytesSchema.optional(),
});

export const observabilityPanelSchema = z.object({
  /** The window the numbers cover (ending at generatedAt), e.g. "1m". */
  window: z.string(),
  generatedAt: z.string(),
  services: z.array(
    rowSchema.extend({
      service: z.string(),
      replicas: z.array(rowSchema.extend({ replica: z.string() })),
    }),
  ),
  envoy: z.object({
    cpuPercent: num,
    memoryAllocatedBytes: num,
    downstreamConnections: num,
    requestsPerSecond: num,
    /**
     * Bytes on the wire (headers included), seen from Envoy: on the front listener, from clients
     * (in) and to them (out); per cluster, from its replicas (in) and to them (out). Optional, as
     * above.
     */
    bytes: z
      .object({
        listener: bytesSchema,
        clusters: z.array(bytesSchema.extend({ cluster: z.string() })),
      })
      .optional(),
  }),
});
export type ObservabilityPanel = z.infer<typeof observabilityPanelSchema>;

const finite = (v: number | undefined): number | null => (v === undefined || !Number.isFinite(v) ? null : v);

/** Bytes in and out of a window, with the bandwidth they average to. */
function bytesOf(inBytes: number | null, outBytes: number | null, seconds: number): PanelBytes {
  const rate = (v: number | null): number | null => (v === null ? null : v / seconds);
  return { in: inBytes, out: outBytes, inPerSecond: rate(inBytes), outPerSecond: rate(outBytes) };
}

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };

/** Seconds in a PromQL duration such as "90s" or "1m30s"; throws for anything else. */
export function windowSeconds(window: string): number {
  if (!/^(\d+(ms|s|m|h|d|w|y))+$/.test(window)) throw new Error(`query window '${window}' is not a PromQL duration (e.g. 30s, 5m)`);
  let total = 0;
  for (const [, n, unit] of window.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(n) * (UNIT_SECONDS[unit ?? "s"] ?? 1);
  if (total <= 0) throw new Error(`query window '${window}' is empty`);
  return total;
}

/**
 * PromQL: each series' growth over the window, from its sample at the window's start (the newest
 * at or before it) to its newest sample; no extrapolation. A series that did not exist at the start
 * grows from 0; a counter that went backwards (a restarted process) counts 0.
 */
export function growth(series: string, window: string): string {
  return `clamp_min(${series} - (${series} offset ${window} or ${series} * 0), 0)`;
}

const groupLabels = (g: Grouping, ...more: string[]): string =>
  [...(g === "replica" ? ["service", "replica"] : ["service"]), ...more].join(", ");

/** The panel's PromQL for one grouping: answers per status class, and the latency quantiles. */
export function panelQueries(
  scope: QueryScope & { window: string },
  g: Grouping,
): { classes: string; quantile: (q: number) => string; bytesIn: string; bytesOut: string } {
  const sel = serviceSelector(scope);
  return {
    classes: `sum by (${groupLabels(g, "status_class")}) (${growth(`http_requests_total${sel}`, scope.window)})`,
    bytesIn: `sum by (${groupLabels(g)}) (${growth(`http_request_size_bytes_total${sel}`, scope.window)})`,
    bytesOut: `sum by (${groupLabels(g)}) (${growth(`http_response_size_bytes_total${sel}`, scope.window)})`,
    quantile: (q) =>
      `histogram_quantile(${q}, sum by (${groupLabels(g, "le")}) (${growth(`http_request_duration_seconds_bucket${sel}`, scope.window)}))`,
  };
}

function keyOf(labels: Record<string, string>, g: Grouping): string {
  return g === "service" ? (labels.service ?? "") : `${labels.service ?? ""}|${labels.replica ?? ""}`;
}

function index(samples: readonly Sample[], g: Grouping): Map<string, number> {
  return new Map(samples.map((s) => [keyOf(s.labels, g), s.value]));
}

export interface PanelScope extends QueryScope {
  /** Evaluation time: the window ends here (default: Prometheus' now). */
  at?: Date;
}

type PanelQuery = { query: (q: string) => Promise<Sample[]> };

/** Requests per status class, summed per key of the grouping. */
function countByClass(classes: readonly Sample[], g: Grouping): Map<string, { total: number; classes: Record<string, number> }> {
  const byClass = new Map<string, { total: number; classes: Record<string, number> }>();
  for (const c of classes) {
    const k = keyOf(c.labels, g);
    const rec = byClass.get(k) ?? { total: 0, classes: {} };
    if (Number.isFinite(c.value)) {
      rec.total += c.value;
      const n = Math.round(c.value);
      if (n > 0) rec.classes[c.labels.status_class ?? "?"] = (rec.classes[c.labels.status_class ?? "?"] ?? 0) + n;
    }
    byClass.set(k, rec);
  }
  return byClass;
}

/** The panel's rows per service or per replica. */
async function groupingRows(prom: PanelQuery, s: QueryScope & { window: string }, g: Grouping, seconds: number) {
  const q = panelQueries(s, g);
  const [classes, p50, p90, p99, bytesIn, bytesOut] = await Promise.all([
    prom.query(q.classes),
    prom.query(q.quantile(0.5)),
    prom.query(q.quantile(0.9)),
    prom.query(q.quantile(0.99)),
    prom.query(q.bytesIn),
    prom.query(q.bytesOut),
  ]);
  const idx = { p50: index(p50, g), p90: index(p90, g), p99: index(p99, g), in: index(bytesIn, g), out: index(bytesOut, g) };
  const byClass = countByClass(classes, g);
  const keys = [...new Set([...byClass.keys(), ...idx.p50.keys()])].sort();
  return keys.map((k) => {
    const counted = byClass.get(k);
    const requests = counted === undefined ? null : Math.round(counted.total);
    return {
      key: k,
      row: {
        requests,
        requestsPerSecond: requests === null ? null : requests / seconds,
        errorRatio: requests === null || requests === 0 ? null : (counted?.classes["5xx"] ?? 0) / requests,
        latency: { p50: finite(idx.p50.get(k)), p90: finite(idx.p90.get(k)), p99: finite(idx.p99.get(k)) },
        statusClasses: counted?.classes ?? {},
        bytes: bytesOf(finite(idx.in.get(k)), finite(idx.out.get(k)), seconds),
      },
    };
  });
}

/** Reads the panel's numbers from Prometheus for the given window (default 1m). */
export async function observabilityPanel(promClient: PrometheusClient, scope: PanelScope = {}): Promise<ObservabilityPanel> {
  const window = scope.window ?? "1m";
  const seconds = windowSeconds(window);
  const { at, ...rest } = scope;
  const s = { ...rest, window };
  const prom = { query: (q: string) => promClient.query(q, at) };
  const scalar = async (q: string): Promise<number | null> => finite((await prom.query(q))[0]?.value);
  const perGrouping = (g: Grouping) => groupingRows(prom, s, g, seconds);
  const ingress = `{job="envoy",envoy_http_conn_manager_prefix=${quote(INGRESS_PREFIX)}}`;
  const envoyRequests = `sum(${growth(`envoy_http_downstream_rq_total${ingress}`, window)})`;
  const cluster = (metric: string): string => `sum by (envoy_cluster_name) (${growth(`${metric}${clusterSelector(s)}`, window)})`;
  const [services, replicas, cpu, mem, cx, envoyRq, rx, tx, upstreamRx, upstreamTx] = await Promise.all([
    perGrouping("service"),
    perGrouping("replica"),
    scalar(envoyCpuPercent()),
    scalar(envoyMemoryAllocated()),
    scalar(envoyDownstreamConnections()),
    scalar(envoyRequests),
    scalar(`sum(${growth(`envoy_http_downstream_cx_rx_bytes_total${ingress}`, window)})`),
    scalar(`sum(${growth(`envoy_http_downstream_cx_tx_bytes_total${ingress}`, window)})`),
    prom.query(cluster("envoy_cluster_upstream_cx_rx_bytes_total")),
    prom.query(cluster("envoy_cluster_upstream_cx_tx_bytes_total")),
  ]);
  const byCluster = (samples: readonly Sample[]): Map<string, number> =>
    new Map(samples.map((x) => [x.labels.envoy_cluster_name ?? "", x.value]));
  const [clusterRx, clusterTx] = [byCluster(upstreamRx), byCluster(upstreamTx)];
  const clusters = [...new Set([...clusterRx.keys(), ...clusterTx.keys()])].filter((c) => c !== "").sort();
  return observabilityPanelSchema.parse({
    window,
    generatedAt: (at ?? new Date()).toISOString(),
    services: services.map(({ key, row }) => ({
      service: key,
      ...row,
      replicas: replicas.filter((r) => r.key.startsWith(`${key}|`)).map((r) => ({ replica: r.key.slice(key.length + 1), ...r.row })),
    })),
    envoy: {
      cpuPercent: cpu,
      memoryAllocatedBytes: mem,
      downstreamConnections: cx,
      requestsPerSecond: envoyRq === null ? null : envoyRq / seconds,
      bytes: {
        listener: bytesOf(rx, tx, seconds),
        clusters: clusters.map((c) => ({ cluster: c, ...bytesOf(finite(clusterRx.get(c)), finite(clusterTx.get(c)), seconds) })),
      },
    },
  });
}

/**
 * Scope of a panel over a run: evaluated at `now`, over a window that starts 1 ms after `samplesAt`
 * (millisecond precision, e.g. "6123ms"). For verify, `samplesAt` is `MetricsSnapshot.allScrapedAt`:
 * every target's newest sample before the load was taken by then, and its next one only after it,
 * so each counter's growth starts at exactly the snapshot's count; earlier traffic (a scale's
 * probes, an earlier load) stays out.
 */
export function panelScopeSince(samplesAt: Date | number, now: number = Date.now()): { window: string; at: Date } {
  const start = samplesAt instanceof Date ? samplesAt.getTime() : samplesAt;
  const ms = Number.isFinite(start) ? Math.max(1, Math.round(now - start) - 1) : 60_000;
  return { window: `${ms}ms`, at: new Date(now) };
}

/**
 * The panel, or null when it cannot be built (Prometheus unreachable, a query rejected, an answer
 * that does not fit the schema), after telling `warn` why: for reports the panel must not fail.
 */
export async function observabilityPanelOrNull(
  prom: PrometheusClient,
  scope: PanelScope,
  warn: (reason: string) => void,
): Promise<ObservabilityPanel | null> {
  try {
    return await observabilityPanel(prom, scope);
  } catch (err) {
    warn(errorMessage(err));
    return null;
  }
}
