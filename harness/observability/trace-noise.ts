// How much of what Zipkin holds is noise: traces whose root span is a health check or a metrics
// scrape (`get /healthz`, `get /metrics`, from any service) rather than a request someone made.
// Pure, for the bench (bench/trace-noise.ts) and the integration test.
import type { ZipkinSpan } from "./zipkin.ts";

/** Paths that only probes ask for: Envoy's and Docker's health checks, Prometheus' scrapes. */
export const PROBE_PATHS = ["/healthz", "/metrics"] as const;

/** True when a span is about a probe path: by its name (`get /healthz`) or its http.path tag. */
export function isProbeSpan(span: ZipkinSpan): boolean {
  const probe = (path: string | undefined): boolean =>
    path !== undefined && (PROBE_PATHS as readonly string[]).includes(path.replace(/[?#].*$/, "").replace(/\/$/, ""));
  const name = span.name ?? "";
  // The service names its spans `get /healthz`; Envoy tags its own with the full http.url.
  return probe(name.split(" ").at(-1)) || probe(span.tags?.["http.path"]) || probe(urlPath(span.tags?.["http.url"]));
}

function urlPath(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    return new URL(url, "http://host.invalid").pathname;
  } catch {
    return undefined;
  }
}

export interface TraceNoise {
  traces: number;
  /** Traces whose root span (no parentId) is a probe's. */
  probeRoots: number;
  /** probeRoots / traces (0 without traces). */
  share: number;
  /** Spans of any trace that are about a probe path, root or not. */
  probeSpans: number;
  /** Root span names with their counts, most frequent first. */
  rootNames: [string, number][];
}

export function traceNoise(traces: readonly (readonly ZipkinSpan[])[]): TraceNoise {
  let probeRoots = 0;
  let probeSpans = 0;
  const names = new Map<string, number>();
  for (const trace of traces) {
    const root = trace.find((s) => s.parentId === undefined) ?? trace[0];
    const name = `${root?.localEndpoint?.serviceName ?? "?"}: ${root?.name ?? "?"}`;
    names.set(name, (names.get(name) ?? 0) + 1);
    if (root && isProbeSpan(root)) probeRoots += 1;
    probeSpans += trace.filter(isProbeSpan).length;
  }
  return {
    traces: traces.length,
    probeRoots,
    share: traces.length === 0 ? 0 : probeRoots / traces.length,
    probeSpans,
    rootNames: [...names.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
  };
}
