// The chi-square distribution (p-values, critical values) and the noncentral chi-square (power).
// Classic formulations, unit-tested against scipy.stats values (docs/verify.md, "Statistics").
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
