// The statistics behind the balance check, written out so that every number in the report can be
// traced: the chi-square distribution (p-values, critical values), the noncentral chi-square
// (power, sample size) and the deterministic bound for Envoy's per-worker round robin.
//
// Special functions follow the classic formulations (Lanczos log-gamma; the regularized incomplete
// gamma by its power series below a+1 and its continued fraction, evaluated with modified Lentz,
// above; the noncentral chi-square as a Poisson mixture of central ones). They are unit-tested
// against scipy.stats reference values in test/unit/verify-stats.test.ts.

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; about 15 significant digits). */
export function lnGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`lnGamma: x must be > 0, got ${x}`);
  if (x < 0.5) {
    // Reflection keeps the approximation accurate near 0.
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  }
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const EPS = 1e-16;
const TINY = 1e-300;

function maxIterations(a: number): number {
  return 1000 + Math.ceil(10 * Math.sqrt(a));
}

/** P(a, x) by its power series; converges fast for x < a + 1. */
function gammaPSeries(a: number, x: number): number {
  let ap = a;
  let del = 1 / a;
  let sum = del;
  const limit = maxIterations(a) * 10;
  for (let n = 0; n < limit; n++) {
    ap += 1;
    del *= x / ap;
    sum += del;
    if (Math.abs(del) < Math.abs(sum) * EPS) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - lnGamma(a));
}

/** Q(a, x) by its continued fraction (modified Lentz); converges fast for x >= a + 1. */
function gammaQContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  const limit = maxIterations(a) * 10;
  for (let i = 1; i < limit; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h;
}

/** Regularized lower incomplete gamma P(a, x) = γ(a, x) / Γ(a). */
export function gammaP(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError(`gammaP: a must be > 0, got ${a}`);
  if (x <= 0) return 0;
  if (!Number.isFinite(x)) return 1;
  return x < a + 1 ? gammaPSeries(a, x) : 1 - gammaQContinuedFraction(a, x);
}

/** Regularized upper incomplete gamma Q(a, x) = 1 − P(a, x), accurate when it is tiny. */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError(`gammaQ: a must be > 0, got ${a}`);
  if (x <= 0) return 1;
  if (!Number.isFinite(x)) return 0;
  return x < a + 1 ? 1 - gammaPSeries(a, x) : gammaQContinuedFraction(a, x);
}

/** Chi-square CDF with k degrees of freedom. */
export function chi2Cdf(x: number, k: number): number {
  return gammaP(k / 2, x / 2);
}

/** Chi-square survival function (the p-value of a statistic x with k degrees of freedom). */
export function chi2Sf(x: number, k: number): number {
  return gammaQ(k / 2, x / 2);
}

/** The critical value c with chi2Sf(c, k) = alpha (scipy: chi2.isf(alpha, k)). */
export function chi2Isf(alpha: number, k: number): number {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`chi2Isf: alpha must be in (0, 1), got ${alpha}`);
  let lo = 0;
  let hi = Math.max(1, k);
  while (chi2Sf(hi, k) > alpha) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-13 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (chi2Sf(mid, k) > alpha) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Noncentral chi-square with k degrees of freedom and noncentrality λ, as the Poisson(λ/2)
 * mixture of central chi-squares with k + 2j degrees of freedom. Summed outward from the Poisson
 * mode so that large λ neither underflows nor needs thousands of terms. Returns both tails, each
 * summed directly (no 1 − x cancellation).
 */
function ncx2Tails(x: number, k: number, lambda: number): { cdf: number; sf: number } {
  if (lambda < 0 || !Number.isFinite(lambda)) throw new RangeError(`ncx2: noncentrality must be >= 0, got ${lambda}`);
  if (lambda === 0) return { cdf: chi2Cdf(x, k), sf: chi2Sf(x, k) };
  if (x <= 0) return { cdf: 0, sf: 1 };
  const half = lambda / 2;
  const mode = Math.floor(half);
  const logWeight = (j: number): number => -half + j * Math.log(half) - lnGamma(j + 1);
  let cdf = 0;
  let sf = 0;
  let weightSum = 0;
  const add = (j: number): number => {
    const w = Math.exp(logWeight(j));
    weightSum += w;
    cdf += w * gammaP(k / 2 + j, x / 2);
    sf += w * gammaQ(k / 2 + j, x / 2);
    return w;
  };
  for (let j = mode; ; j++) {
    const w = add(j);
    if (j > mode && w < 1e-17 * weightSum) break;
  }
  for (let j = mode - 1; j >= 0; j--) {
    const w = add(j);
    if (w < 1e-17 * weightSum) break;
  }
  return { cdf, sf };
}

/** Noncentral chi-square CDF (scipy: ncx2.cdf(x, k, λ)). */
export function ncx2Cdf(x: number, k: number, lambda: number): number {
  return ncx2Tails(x, k, lambda).cdf;
}

/** Noncentral chi-square survival function (scipy: ncx2.sf(x, k, λ)). */
export function ncx2Sf(x: number, k: number, lambda: number): number {
  return ncx2Tails(x, k, lambda).sf;
}

// --------------------------------------------------------------------------------------------
// Pearson chi-square goodness of fit, its power and the sample size that buys a given power.
// --------------------------------------------------------------------------------------------

/** Normalizes non-negative weights to probabilities. */
export function toProbabilities(weights: readonly number[]): number[] {
  const total = weights.reduce((s, w) => s + w, 0);
  if (!(total > 0)) throw new RangeError("weights must sum to more than 0");
  return weights.map((w) => w / total);
}

export interface ChiSquareResult {
  statistic: number;
  df: number;
  pValue: number;
  /** Expected count per cell: n · p_i. */
  expected: number[];
}

/** Pearson's X² = Σ (O − E)² / E against the probabilities `probs`; p-value from chi2(N − 1). */
export function chiSquareTest(counts: readonly number[], probs: readonly number[]): ChiSquareResult {
  if (counts.length !== probs.length) throw new RangeError("counts and probabilities differ in length");
  const n = counts.reduce((s, c) => s + c, 0);
  const expected = probs.map((p) => p * n);
  const df = counts.length - 1;
  if (df < 1 || n === 0) return { statistic: 0, df: Math.max(df, 0), pValue: 1, expected };
  let statistic = 0;
  for (let i = 0; i < counts.length; i++) {
    const e = expected[i]!;
    const o = counts[i]!;
    if (e === 0) {
      if (o > 0) statistic = Infinity;
      continue;
    }
    statistic += ((o - e) * (o - e)) / e;
  }
  return { statistic, df, pValue: Number.isFinite(statistic) ? chi2Sf(statistic, df) : 0, expected };
}

/** Noncentrality per request, Σ (p1 − p0)² / p0 (Cohen's w²): λ = n · this. */
export function noncentralityPerRequest(p0: readonly number[], p1: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < p0.length; i++) {
    const a = p0[i]!;
    if (a > 0) s += ((p1[i]! - a) * (p1[i]! - a)) / a;
  }
  return s;
}

export interface Alternative {
  /** Index of the replica whose weight is scaled. */
  index: number;
  /** Factor applied to that replica's weight (0.5 = half its share, 2 = double). */
  factor: number;
  /** The resulting probabilities. */
  probs: number[];
  /** Noncentrality per request against the null. */
  lambdaPerRequest: number;
}

/**
 * The alternatives the sample is sized against: each replica in turn receiving `factor` times its
 * weight relative to the others (the others keep theirs). With three equal replicas, "double" is
 * 2:1:1 (shares .5/.25/.25) and "half" is .5:1:1 (.2/.4/.4). This is the harder reading of "a
 * replica at half or double its fair share": the literal one (share 1/(2N) or 2/N, others taking
 * up the difference) moves that replica further from 1/N and is therefore detected with at
 * least the same power at the same n.
 */
export function alternatives(p0: readonly number[], factors: readonly number[] = [0.5, 2]): Alternative[] {
  const out: Alternative[] = [];
  for (let i = 0; i < p0.length; i++) {
    for (const factor of factors) {
      const probs = toProbabilities(p0.map((p, j) => (j === i ? p * factor : p)));
      out.push({ index: i, factor, probs, lambdaPerRequest: noncentralityPerRequest(p0, probs) });
    }
  }
  return out;
}

/** The hardest alternative to detect (smallest noncentrality per request). */
export function hardestAlternative(p0: readonly number[], factors: readonly number[] = [0.5, 2]): Alternative | undefined {
  let best: Alternative | undefined;
  for (const alt of alternatives(p0, factors)) if (!best || alt.lambdaPerRequest < best.lambdaPerRequest) best = alt;
  return best;
}

/** Power of the chi-square test at level alpha with df degrees of freedom and noncentrality λ. */
export function chiSquarePower(lambda: number, df: number, alpha: number): number {
  if (df < 1) return 0;
  return ncx2Sf(chi2Isf(alpha, df), df, lambda);
}

/** The noncentrality λ at which the test reaches `power` (bisection; power is increasing in λ). */
export function requiredNoncentrality(df: number, alpha: number, power: number): number {
  const crit = chi2Isf(alpha, df);
  let lo = 0;
  let hi = 1;
  while (ncx2Sf(crit, df, hi) < power) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-10 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (ncx2Sf(crit, df, mid) < power) lo = mid;
    else hi = mid;
  }
  return hi;
}

export interface SampleSizePlan {
  /** Requests to send. */
  n: number;
  alpha: number;
  power: number;
  /** The alternative that needed the most requests. */
  hardest: { index: number; factor: number; lambdaPerRequest: number } | null;
}

/**
 * The smallest n at which a Pearson chi-square test at level `alpha` detects any replica at half
 * or double its weight with probability `power` (asymptotic noncentral chi-square power; checked
 * against simulation in the unit tests). Also keeps every expected count at 5 or more, the usual
 * validity condition of the chi-square approximation.
 */
export function chiSquareSampleSize(
  p0: readonly number[],
  opts: { alpha?: number; power?: number; factors?: readonly number[] } = {},
): SampleSizePlan {
  const alpha = opts.alpha ?? 1e-6;
  const power = opts.power ?? 0.99;
  const hardest = hardestAlternative(p0, opts.factors);
  if (p0.length < 2 || !hardest) return { n: 0, alpha, power, hardest: null };
  const lambda = requiredNoncentrality(p0.length - 1, alpha, power);
  const minP = Math.min(...p0.filter((p) => p > 0));
  const n = Math.max(Math.ceil(lambda / hardest.lambdaPerRequest), Math.ceil(5 / minP));
  return { n, alpha, power, hardest: { index: hardest.index, factor: hardest.factor, lambdaPerRequest: hardest.lambdaPerRequest } };
}

// --------------------------------------------------------------------------------------------
// Round robin: the deterministic bound.
// --------------------------------------------------------------------------------------------

/**
 * How far one replica's count may lie from its share under Envoy's round robin, per worker, for a
 * replica that is one of Envoy's hosts (see roundRobinGroupSlackPerWorker for an address Envoy
 * lists more than once).
 *
 * Derivation (Envoy 1.40 source: load_balancing_policies/round_robin/round_robin_lb.h and
 * common/load_balancer_impl.cc). Every worker thread owns its own load balancer; the balancers do
 * not coordinate, and each starts at a random offset (`seed_`).
 *
 *  - Equal weights: a worker picks hosts_to_use[(seed + k) mod N] for its k-th pick. If worker w
 *    makes m_w picks, replica i gets floor(m_w/N) or ceil(m_w/N) of them, i.e.
 *    m_w/N + e_{w,i} with e_{w,i} in (−1, 1). Summed over the W workers that carried traffic,
 *    c_i − n/N = Σ_w e_{w,i}, so |c_i − n/N| < W — whatever the offsets, whatever n mod N.
 *  - Unequal weights: Envoy switches to an EDF schedule where replica i's deadlines form the
 *    arithmetic progression o_i + k/w_i, so in any window of m picks replica i is picked
 *    m·p_i' + δ_i times, δ_i in (−1, 1], p_i' = w_i/Σw. Since Σ_j δ_j must absorb the rounding,
 *    c_i − m·p_i = (1 − p_i)·δ_i − p_i·Σ_{j≠i} δ_j, hence |c_i − m·p_i| < 1 + p_i·(N − 2).
 *
 * Returns that per-worker slack (1 for equal weights).
 */
export function roundRobinSlackPerWorker(p: number, replicas: number, weighted: boolean): number {
  if (!weighted) return 1;
  return 1 + p * Math.max(0, replicas - 2);
}

/**
 * The same for a replica that is k of Envoy's H hosts (an address listed k times), share p.
 * Equal weights: k of H consecutive positions in the rotation, so a partial cycle of r < H picks
 * holds between max(0, r − (H − k)) and min(r, k) of them: the deviation stays below
 * min(k, H − k) (and 1 for k = 1). Unequal weights: summing the EDF argument over the k hosts,
 * |c − m·p| < k·(1 − p) + p·(H − k).
 */
export function roundRobinGroupSlackPerWorker(p: number, k: number, totalHosts: number, weighted: boolean): number {
  if (k <= 1) return roundRobinSlackPerWorker(p, totalHosts, weighted);
  if (!weighted) return Math.max(1, Math.min(k, totalHosts - k));
  return k * (1 - p) + p * Math.max(0, totalHosts - k);
}

export interface RoundRobinBoundInput {
  /** Observed counts per replica (responses that named the replica). */
  counts: readonly number[];
  /** Expected share per replica (1/N, or w_i/Σw). */
  probs: readonly number[];
  weighted: boolean;
  /** Worker threads that carried this traffic (≤ min(Envoy concurrency, connections)). */
  workers: number;
  /** Envoy's upstream_rq_retry for the cluster during the load: each retry is an extra pick. */
  retries: number;
  /** Requests that got no replica's answer (each may still have consumed a pick). */
  unattributed: number;
  /** Picks made for traffic the harness did not send (from Envoy's counters). */
  foreign: number;
  /** Host-set changes during the load (membership changes, health flips): each restarts the sequence. */
  hostSetChanges: number;
  /** How many of Envoy's hosts each replica is (default 1 each). */
  endpoints?: readonly number[];
}

export interface RoundRobinBoundResult {
  passed: boolean;
  /** Allowed |count − expected| per replica. */
  bounds: number[];
  deviations: number[];
  /** Index of the replica furthest beyond its bound (or furthest from its share when all pass). */
  worst: number;
}

/**
 * |c_i − n·p_i| ≤ W·s_i·(1 + H) + R + U + F, where n counts attributed answers, W workers,
 * s_i the per-worker slack above, H host-set changes (each one starts a new round-robin segment
 * per worker, adding at most one more s_i per worker), R retries, U unattributed answers and F
 * foreign picks. A retry or a lost answer removes one pick from some replica's count and can add
 * one to another's, so each moves any single replica by at most one.
 */
export function roundRobinBound(input: RoundRobinBoundInput): RoundRobinBoundResult {
  const n = input.counts.reduce((s, c) => s + c, 0);
  const N = input.counts.length;
  const extra = input.retries + input.unattributed + input.foreign;
  const totalHosts = input.endpoints ? input.endpoints.reduce((s, k) => s + k, 0) : N;
  const bounds = input.probs.map(
    (p, i) =>
      input.workers * roundRobinGroupSlackPerWorker(p, input.endpoints?.[i] ?? 1, totalHosts, input.weighted) * (1 + input.hostSetChanges) +
      extra,
  );
  const deviations = input.counts.map((c, i) => c - n * input.probs[i]!);
  let worst = 0;
  let worstScore = -Infinity;
  let passed = true;
  for (let i = 0; i < N; i++) {
    const score = Math.abs(deviations[i]!) - bounds[i]!;
    if (score > 0) passed = false;
    if (score > worstScore) {
      worstScore = score;
      worst = i;
    }
  }
  return { passed, bounds, deviations, worst };
}

/**
 * Whether a replica running at `factor` times its weight would break the round-robin bound at n
 * requests: its expected deviation n·|p1 − p0| must exceed the bound. Deterministic, so the
 * "power" is 1 or 0.
 */
export function roundRobinDetects(
  n: number,
  p0: readonly number[],
  bound: (index: number) => number,
  factors: readonly number[] = [0.5, 2],
): boolean {
  for (const alt of alternatives(p0, factors)) {
    if (n * Math.abs(alt.probs[alt.index]! - p0[alt.index]!) <= bound(alt.index)) return false;
  }
  return true;
}

// --------------------------------------------------------------------------------------------
// Percentiles and histograms.
// --------------------------------------------------------------------------------------------

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
