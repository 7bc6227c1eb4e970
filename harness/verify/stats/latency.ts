// Percentiles and histograms of latencies.
/** Nearest-rank percentile of an ascending-sorted array (q in [0, 1]); NaN when empty. */
export function percentileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Exact percentiles (sorts a copy). Milliseconds in, milliseconds out. */
export function summarizeLatencies(values: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50: percentileSorted(sorted, 0.5),
    p90: percentileSorted(sorted, 0.9),
    p99: percentileSorted(sorted, 0.99),
    max: sorted.length > 0 ? sorted[sorted.length - 1]! : NaN,
    mean: sorted.length > 0 ? sum / sorted.length : NaN,
  };
}

/** Logarithmic latency histogram: bucket upper edges (ms) and counts; 4 buckets per doubling. */
export function latencyHistogram(values: ArrayLike<number>, minMs = 0.05, perDoubling = 4): { edgesMs: number[]; counts: number[] } {
  if (values.length === 0) return { edgesMs: [], counts: [] };
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]!);
  const edges: number[] = [];
  for (let e = minMs; ; e *= 2 ** (1 / perDoubling)) {
    edges.push(Number(e.toPrecision(4)));
    if (e >= max) break;
  }
  const counts = new Array<number>(edges.length).fill(0);
  const factor = perDoubling / Math.LN2;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const idx = v <= minMs ? 0 : Math.min(edges.length - 1, Math.ceil(Math.log(v / minMs) * factor - 1e-9));
    counts[idx]! += 1;
  }
  return { edgesMs: edges, counts };
}
