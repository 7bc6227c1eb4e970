// Pearson chi-square goodness of fit, its power and the sample size that buys a given power.
import { chi2Isf, chi2Sf, ncx2Sf } from "./distributions.ts";

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
