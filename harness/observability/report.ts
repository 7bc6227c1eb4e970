// Data for the verify report's observability panel: per service (and per replica) latency
// quantiles, request rate, error ratio and status classes from Prometheus, plus Envoy's own
// numbers — a small JSON structure the HTML report renders as a table.
import { z } from "zod";
import type { PrometheusClient, Sample } from "./prometheus.ts";
import {
  envoyCpuPercent,
  envoyDownstreamConnections,
  envoyMemoryAllocated,
  envoyRequestRate,
  errorRatio,
  latencyQuantile,
  requestRate,
  requestsIncrease,
  statusClasses,
  type Grouping,
  type QueryScope,
} from "./queries.ts";

const num = z.number().nullable();
const latencySchema = z.object({ p50: num, p90: num, p99: num });

const rowSchema = z.object({
  requests: num,
  requestsPerSecond: num,
  /** Share of 5xx answers (0..1). */
  errorRatio: num,
  /** Seconds. */
  latency: latencySchema,
  /** Answers per class, e.g. { "2xx": 300, "5xx": 2 }. */
  statusClasses: z.record(z.string(), z.number()),
});

export const observabilityPanelSchema = z.object({
  /** The rate window, e.g. "1m". */
  window: z.string(),
  generatedAt: z.string(),
  services: z.array(
    rowSchema.extend({
      service: z.string(),
      replicas: z.array(rowSchema.extend({ replica: z.string() })),
    }),
  ),
  envoy: z.object({ cpuPercent: num, memoryAllocatedBytes: num, downstreamConnections: num, requestsPerSecond: num }),
});
export type ObservabilityPanel = z.infer<typeof observabilityPanelSchema>;

const finite = (v: number | undefined): number | null => (v === undefined || !Number.isFinite(v) ? null : v);

function keyOf(labels: Record<string, string>, g: Grouping): string {
  return g === "service" ? (labels.service ?? "") : `${labels.service ?? ""}|${labels.replica ?? ""}`;
}

function index(samples: readonly Sample[], g: Grouping): Map<string, number> {
  return new Map(samples.map((s) => [keyOf(s.labels, g), s.value]));
}

/** Reads the panel's numbers from Prometheus for the given window (default 1m). */
export async function observabilityPanel(prom: PrometheusClient, scope: QueryScope = {}): Promise<ObservabilityPanel> {
  const window = scope.window ?? "1m";
  const s = { ...scope, window };
  const scalar = async (q: string): Promise<number | null> => finite((await prom.query(q))[0]?.value);
  const perGrouping = async (g: Grouping) => {
    const [count, rate, errors, p50, p90, p99, classes] = await Promise.all([
      prom.query(requestsIncrease(s, g)),
      prom.query(requestRate(s, g)),
      prom.query(errorRatio(s, g)),
      prom.query(latencyQuantile(0.5, s, g)),
      prom.query(latencyQuantile(0.9, s, g)),
      prom.query(latencyQuantile(0.99, s, g)),
      prom.query(statusClasses(s, g)),
    ]);
    const idx = { count: index(count, g), rate: index(rate, g), errors: index(errors, g), p50: index(p50, g), p90: index(p90, g), p99: index(p99, g) };
    const byClass = new Map<string, Record<string, number>>();
    for (const c of classes) {
      const k = keyOf(c.labels, g);
      const rec = byClass.get(k) ?? {};
      rec[c.labels.status_class ?? "?"] = Math.round(c.value);
      byClass.set(k, rec);
    }
    const keys = [...new Set([...idx.count.keys(), ...idx.rate.keys()])].sort();
    return keys.map((k) => ({
      key: k,
      row: {
        requests: finite(idx.count.get(k)) === null ? null : Math.round(idx.count.get(k) ?? 0),
        requestsPerSecond: finite(idx.rate.get(k)),
        errorRatio: finite(idx.errors.get(k)),
        latency: { p50: finite(idx.p50.get(k)), p90: finite(idx.p90.get(k)), p99: finite(idx.p99.get(k)) },
        statusClasses: byClass.get(k) ?? {},
      },
    }));
  };
  const [services, replicas, cpu, mem, cx, rps] = await Promise.all([
    perGrouping("service"),
    perGrouping("replica"),
    scalar(envoyCpuPercent()),
    scalar(envoyMemoryAllocated()),
    scalar(envoyDownstreamConnections()),
    scalar(envoyRequestRate(s)),
  ]);
  return observabilityPanelSchema.parse({
    window,
    generatedAt: new Date().toISOString(),
    services: services.map(({ key, row }) => ({
      service: key,
      ...row,
      replicas: replicas.filter((r) => r.key.startsWith(`${key}|`)).map((r) => ({ replica: r.key.slice(key.length + 1), ...r.row })),
    })),
    envoy: { cpuPercent: cpu, memoryAllocatedBytes: mem, downstreamConnections: cx, requestsPerSecond: rps },
  });
}
