// The balance statistics against known values. Reference values come from scipy 1.17.0
// (scipy.special.gammaln/gammainc/gammaincc, scipy.stats.chi2/ncx2; the required noncentrality
// and the sample sizes by the same bisection and definitions as stats.ts, in scipy), printed by
// scripts/scipy-reference.py in this file's order. To reproduce them (not part of npm test):
//   python3 -m venv /tmp/scipy-ref && /tmp/scipy-ref/bin/pip install -r scripts/requirements-reference.txt
//   /tmp/scipy-ref/bin/python scripts/scipy-reference.py
import { strict as assert } from "node:assert";
import { describe, it } from "vitest";
import {
  alternatives,
  chi2Isf,
  chi2Sf,
  chiSquarePower,
  chiSquareSampleSize,
  chiSquareTest,
  gammaP,
  gammaQ,
  hardestAlternative,
  latencyHistogram,
  lnGamma,
  ncx2Cdf,
  ncx2Sf,
  percentileSorted,
  requiredNoncentrality,
  roundRobinBound,
  roundRobinDetects,
  roundRobinGroupSlackPerWorker,
  roundRobinSlackPerWorker,
  summarizeLatencies,
  toProbabilities,
} from "../../harness/verify/stats/index.ts";

/** Relative closeness, with an absolute floor for values near zero. */
function close(actual: number, expected: number, rel = 1e-9, abs = 1e-300): void {
  const ok = Math.abs(actual - expected) <= Math.max(abs, rel * Math.abs(expected));
  assert.ok(ok, `expected ${expected}, got ${actual} (rel err ${Math.abs(actual - expected) / Math.abs(expected)})`);
}

/** Small deterministic PRNG (mulberry32) so simulations are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sampleMultinomial(n: number, probs: readonly number[], random: () => number): number[] {
  const counts = new Array<number>(probs.length).fill(0);
  const cumulative: number[] = [];
  let acc = 0;
  for (const p of probs) {
    acc += p;
    cumulative.push(acc);
  }
  for (let i = 0; i < n; i++) {
    const u = random() * acc;
    let j = 0;
    while (j < cumulative.length - 1 && u >= cumulative[j]!) j++;
    counts[j]! += 1;
  }
  return counts;
}

describe("special functions (scipy reference values)", () => {
  it("lnGamma", () => {
    const ref: [number, number][] = [
      [0.1, 2.252712651734206],
      [0.5, 0.5723649429247],
      [1, 0.0],
      [1.5, -0.12078223763524526],
      [2.5, 0.2846828704729192],
      [10, 12.801827480081469],
      [50.5, 146.51925549072064],
      [171.3, 708.1149470389971],
      [1000, 5905.220423209181],
    ];
    for (const [x, want] of ref) close(lnGamma(x), want, 1e-12, 1e-14);
  });

  it("regularized lower incomplete gamma P(a, x)", () => {
    const ref: [number, number, number][] = [
      [0.5, 0.1, 0.34527915398142317],
      [1, 1, 0.6321205588285577],
      [1, 3, 0.950212931632136],
      [2.5, 1.2, 0.20852587940567532],
      [10, 3, 0.0011024881301154815],
      [10, 15, 0.9301463393005901],
      [50, 40, 0.07033506665939494],
      [50, 70, 0.994859497541494],
      [0.5, 30, 0.9999999999999906],
      [100.5, 150, 0.9999926686456304],
    ];
    for (const [a, x, want] of ref) close(gammaP(a, x), want, 1e-11);
  });

  it("regularized upper incomplete gamma Q(a, x), including tiny tails", () => {
    const ref: [number, number, number][] = [
      [0.5, 0.1, 0.6547208460185768],
      [1, 20, 2.0611536224385566e-9],
      [2.5, 40, 8.391825114831597e-16],
      [10, 60, 2.851507755552014e-16],
      [1, 13.815510557964274, 1.0000000000000008e-6],
      [5, 30, 3.6243009520614924e-9],
      [100, 200, 1.8438936497115418e-15],
      [1.5, 45, 2.190570119285308e-19],
    ];
    for (const [a, x, want] of ref) close(gammaQ(a, x), want, 1e-9);
  });

  it("chi-square survival function (p-values)", () => {
    const ref: [number, number, number][] = [
      [3.84, 1, 0.05004352124870519],
      [27.63, 2, 1.0005106883211758e-6],
      [5.99, 2, 0.05003662708658629],
      [100, 3, 1.5541594313896026e-21],
      [60, 5, 1.2154569777183007e-11],
      [1.0, 4, 0.9097959895689501],
      [30.0, 10, 0.000856641210775301],
    ];
    for (const [x, k, want] of ref) close(chi2Sf(x, k), want, 1e-9);
  });

  it("chi-square critical values", () => {
    const ref: [number, number, number][] = [
      [0.05, 1, 3.8414588206941285],
      [1e-6, 1, 23.928126976934827],
      [1e-6, 2, 27.631021115928547],
      [1e-6, 3, 30.664849706213598],
      [1e-6, 9, 44.81093787068782],
      [0.01, 2, 9.210340371976182],
      [1e-6, 49, 111.13590530067539],
    ];
    for (const [alpha, k, want] of ref) close(chi2Isf(alpha, k), want, 1e-10);
  });

  it("noncentral chi-square CDF and survival function (Poisson mixture)", () => {
    const cdf: [number, number, number, number][] = [
      [10, 2, 5, 0.7686915506598637],
      [27.631021115928547, 2, 60, 0.005119504909021527],
      [3, 3, 0.5, 0.5350879697078846],
      [50, 4, 30, 0.9118979389103814],
      [400, 10, 350, 0.8552055288788983],
      [20, 1, 2, 0.9988856115818668],
    ];
    for (const [x, k, l, want] of cdf) close(ncx2Cdf(x, k, l), want, 1e-9);
    const sf: [number, number, number, number][] = [
      [27.631021115928547, 2, 56.4, 0.9901754833358071],
      [30.66, 3, 70, 0.9985394261744273],
      [10, 2, 0.1, 0.008485712067691399],
      [100, 5, 10, 4.008765999866916e-11],
      [1500, 3, 1200, 2.4376393110598468e-5],
      [30, 2, 5, 0.0009635272620856727],
    ];
    for (const [x, k, l, want] of sf) close(ncx2Sf(x, k, l), want, 1e-8);
    // λ = 0 is the central distribution.
    close(ncx2Sf(5.99, 2, 0), chi2Sf(5.99, 2), 1e-15);
  });
});

describe("chi-square goodness of fit", () => {
  it("computes Pearson's statistic and p-value", () => {
    const r = chiSquareTest([30, 50, 20], [1 / 3, 1 / 3, 1 / 3]);
    assert.equal(r.df, 2);
    close(r.statistic, 14, 1e-12); // (30−33.3)²/33.3 + (50−33.3)²/33.3 + (20−33.3)²/33.3
    close(r.pValue, Math.exp(-7), 1e-9); // chi2(2) sf is exp(−x/2)
  });

  it("tests against weights", () => {
    const r = chiSquareTest([50, 25, 25], toProbabilities([2, 1, 1]));
    assert.equal(r.statistic, 0);
    assert.equal(r.pValue, 1);
  });

  it("a replica that got nothing it was due makes the statistic infinite only when expected is 0", () => {
    const r = chiSquareTest([10, 0], [1, 0]);
    assert.equal(r.statistic, 0);
    const s = chiSquareTest([5, 5], [1, 0]);
    assert.equal(s.statistic, Infinity);
    assert.equal(s.pValue, 0);
  });

  it("one replica: nothing to test", () => {
    const r = chiSquareTest([100], [1]);
    assert.equal(r.df, 0);
    assert.equal(r.pValue, 1);
  });
});

describe("power and sample size", () => {
  it("defines half/double as a relative weight of 0.5/2 (anchors: 3 replicas -> 451 and 704)", () => {
    const p0 = [1 / 3, 1 / 3, 1 / 3];
    const alts = alternatives(p0);
    const double = alts.find((a) => a.factor === 2 && a.index === 0)!;
    const half = alts.find((a) => a.factor === 0.5 && a.index === 0)!;
    close(double.probs[0]!, 0.5, 1e-12);
    close(half.probs[0]!, 0.2, 1e-12);
    close(double.lambdaPerRequest, 0.125, 1e-12);
    close(half.lambdaPerRequest, 0.08, 1e-12);
    const crit = chi2Isf(1e-6, 2);
    // The noncentrality for 99 % power at alpha 1e-6, df 2 (scipy bisection: 56.29981708262317).
    close(requiredNoncentrality(2, 1e-6, 0.99), 56.29981708262317, 1e-7);
    assert.ok(ncx2Sf(crit, 2, 451 * 0.125) >= 0.99 && ncx2Sf(crit, 2, 450 * 0.125) < 0.99);
    assert.equal(hardestAlternative(p0)!.factor, 0.5);
  });

  it("sizes the sample like scipy does", () => {
    const cases: [number[], number][] = [
      [[0.5, 0.5], 469],
      [[1 / 3, 1 / 3, 1 / 3], 704],
      [[0.25, 0.25, 0.25, 0.25], 972],
      [[0.2, 0.2, 0.2, 0.2, 0.2], 1258],
      [new Array<number>(10).fill(0.1), 2891],
      [[0.5, 0.25, 0.25], 920],
      [[0.4, 0.2, 0.2, 0.2], 1205],
    ];
    for (const [p0, want] of cases) assert.equal(chiSquareSampleSize(p0).n, want, `p0=${p0.join(",")}`);
    // alpha 0.01 (the anchors' 340, exact 343) for comparison.
    assert.equal(chiSquareSampleSize([1 / 3, 1 / 3, 1 / 3], { alpha: 0.01 }).n, 343);
    assert.equal(chiSquareSampleSize([1]).n, 0);
  });

  it("the asymptotic power holds up in simulation (multinomial, 2000 runs each)", () => {
    const random = rng(20240611);
    const p0 = [1 / 3, 1 / 3, 1 / 3];
    const n = chiSquareSampleSize(p0).n;
    const crit = chi2Isf(1e-6, 2);
    for (const factor of [0.5, 2]) {
      const alt = alternatives(p0).find((a) => a.index === 1 && a.factor === factor)!;
      let caught = 0;
      const runs = 2000;
      for (let r = 0; r < runs; r++) {
        if (chiSquareTest(sampleMultinomial(n, alt.probs, random), p0).statistic > crit) caught++;
      }
      const predicted = chiSquarePower(n * alt.lambdaPerRequest, 2, 1e-6);
      // 2000 runs: the standard error of a 0.99 rate is 0.0022.
      assert.ok(caught / runs >= 0.98, `factor ${factor}: caught ${caught}/${runs}, predicted power ${predicted}`);
    }
    // Under the null, alpha 1e-6 should essentially never fire.
    let alarms = 0;
    for (let r = 0; r < 2000; r++) if (chiSquareTest(sampleMultinomial(n, p0, random), p0).pValue < 1e-6) alarms++;
    assert.ok(alarms <= 1, `false alarms ${alarms}/2000`);
  });
});

/**
 * A model of Envoy's per-worker round robin: W workers, each with a random start, requests landing
 * on workers in an arbitrary (here random, or skewed) order; equal weights take rr index picks,
 * unequal weights an EDF schedule as in source/common/upstream/edf_scheduler.h.
 */
function simulateRoundRobin(opts: { n: number; weights: number[]; workers: number; random: () => number; skew?: number }): number[] {
  const N = opts.weights.length;
  const equal = opts.weights.every((w) => w === opts.weights[0]);
  const counts = new Array<number>(N).fill(0);
  const pickers = Array.from({ length: opts.workers }, () => {
    if (equal) {
      let index = Math.floor(opts.random() * 1e6);
      return () => index++ % N;
    }
    // EDF: deadline = current + 1/weight; random number of initial picks like createWithPicks.
    const queue = opts.weights.map((w, i) => ({ deadline: 1 / w, order: i, i }));
    let order = N;
    const pick = (): number => {
      queue.sort((a, b) => a.deadline - b.deadline || a.order - b.order);
      const top = queue[0]!;
      top.deadline += 1 / opts.weights[top.i]!;
      top.order = order++;
      return top.i;
    };
    const warm = Math.floor(opts.random() * 50);
    for (let k = 0; k < warm; k++) pick();
    return pick;
  });
  for (let r = 0; r < opts.n; r++) {
    // skew > 0 sends most requests to worker 0, like uneven kernel connection balancing.
    const w = opts.skew && opts.random() < opts.skew ? 0 : Math.floor(opts.random() * opts.workers);
    counts[pickers[w]!()]! += 1;
  }
  return counts;
}

describe("round-robin bound", () => {
  it("per-worker slack: 1 for equal weights, 1 + p(N − 2) for EDF", () => {
    assert.equal(roundRobinSlackPerWorker(1 / 3, 3, false), 1);
    close(roundRobinSlackPerWorker(0.5, 3, true), 1.5);
    close(roundRobinSlackPerWorker(0.25, 4, true), 1.5);
  });

  it("per-worker slack of an address listed k times among H hosts", () => {
    assert.equal(roundRobinGroupSlackPerWorker(0.4, 2, 5, false), 2);
    assert.equal(roundRobinGroupSlackPerWorker(0.8, 4, 5, false), 1);
    close(roundRobinGroupSlackPerWorker(0.5, 2, 4, true), 2 * 0.5 + 0.5 * 2);
    assert.equal(roundRobinGroupSlackPerWorker(1 / 3, 1, 3, false), 1);
    // Simulated: 5 hosts, replica B is hosts 1 and 2, C is hosts 3 and 4, equal weights.
    const random = rng(3);
    for (let trial = 0; trial < 500; trial++) {
      const W = 1 + Math.floor(random() * 4);
      const n = 1 + Math.floor(random() * 1000);
      const hostCounts = simulateRoundRobin({ n, weights: [1, 1, 1, 1, 1], workers: W, random });
      const counts = [hostCounts[0]!, hostCounts[1]! + hostCounts[2]!, hostCounts[3]! + hostCounts[4]!];
      const r = roundRobinBound({
        counts,
        probs: [0.2, 0.4, 0.4],
        weighted: false,
        endpoints: [1, 2, 2],
        workers: W,
        retries: 0,
        unattributed: 0,
        foreign: 0,
        hostSetChanges: 0,
      });
      assert.ok(r.passed, `W=${W} n=${n} counts=${counts.join(",")}`);
    }
  });

  it("holds in simulation for every n (divisible or not), worker count and skew", () => {
    const random = rng(7);
    let worstSeen = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const N = 2 + Math.floor(random() * 5);
      const W = 1 + Math.floor(random() * 8);
      const n = 1 + Math.floor(random() * 3000);
      const counts = simulateRoundRobin({ n, weights: new Array<number>(N).fill(1), workers: W, random, skew: trial % 3 === 0 ? 0.8 : 0 });
      const r = roundRobinBound({
        counts,
        probs: new Array<number>(N).fill(1 / N),
        weighted: false,
        workers: W,
        retries: 0,
        unattributed: 0,
        foreign: 0,
        hostSetChanges: 0,
      });
      assert.ok(r.passed, `N=${N} W=${W} n=${n} counts=${counts.join(",")}`);
      for (const d of r.deviations) worstSeen = Math.max(worstSeen, Math.abs(d) / W);
      // Strict form of the derivation: |c − n/N| < W.
      for (const d of r.deviations) assert.ok(Math.abs(d) < W);
    }
    assert.ok(worstSeen > 0.5, "the simulation should come near the bound");
  });

  it("holds for EDF-weighted round robin in simulation", () => {
    const random = rng(11);
    for (let trial = 0; trial < 1500; trial++) {
      const N = 2 + Math.floor(random() * 4);
      const weights = Array.from({ length: N }, () => 1 + Math.floor(random() * 4));
      if (weights.every((w) => w === weights[0])) weights[0]! += 1;
      const W = 1 + Math.floor(random() * 6);
      const n = 1 + Math.floor(random() * 2000);
      const counts = simulateRoundRobin({ n, weights, workers: W, random });
      const r = roundRobinBound({
        counts,
        probs: toProbabilities(weights),
        weighted: true,
        workers: W,
        retries: 0,
        unattributed: 0,
        foreign: 0,
        hostSetChanges: 0,
      });
      assert.ok(r.passed, `weights=${weights.join(",")} W=${W} n=${n} counts=${counts.join(",")} dev=${r.deviations.join(",")}`);
    }
  });

  it("fails a replica at half its share and names it", () => {
    const r = roundRobinBound({
      counts: [400, 400, 200],
      probs: [1 / 3, 1 / 3, 1 / 3],
      weighted: false,
      workers: 2,
      retries: 0,
      unattributed: 0,
      foreign: 0,
      hostSetChanges: 0,
    });
    assert.equal(r.passed, false);
    assert.equal(r.worst, 2);
  });

  it("widens by retries, lost answers, foreign picks and host-set changes", () => {
    const base = {
      counts: [336, 334, 330],
      probs: [1 / 3, 1 / 3, 1 / 3],
      weighted: false,
      workers: 2,
      unattributed: 0,
      foreign: 0,
      hostSetChanges: 0,
    };
    assert.equal(roundRobinBound({ ...base, retries: 0 }).passed, false);
    assert.equal(roundRobinBound({ ...base, retries: 2 }).passed, true);
    assert.deepEqual(roundRobinBound({ ...base, retries: 1, unattributed: 1, foreign: 1, hostSetChanges: 1 }).bounds, [7, 7, 7]);
  });

  it("knows when n is large enough to catch a half-share replica deterministically", () => {
    const p0 = [1 / 3, 1 / 3, 1 / 3];
    // Half weight: share 0.2 instead of 1/3, i.e. a deviation of 0.1333·n; bound 2 needs n > 15.
    assert.equal(
      roundRobinDetects(15, p0, () => 2),
      false,
    );
    assert.equal(
      roundRobinDetects(16, p0, () => 2),
      true,
    );
  });
});

describe("percentiles and histogram", () => {
  it("uses nearest rank", () => {
    const sorted = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(percentileSorted(sorted, 0.5), 5);
    assert.equal(percentileSorted(sorted, 0.9), 9);
    assert.equal(percentileSorted(sorted, 0.99), 10);
    assert.equal(percentileSorted(sorted, 0), 1);
    assert.ok(Number.isNaN(percentileSorted(new Float64Array(), 0.5)));
    const s = summarizeLatencies([5, 1, 3, 2, 4]);
    assert.deepEqual([s.p50, s.p90, s.p99, s.max, s.mean], [3, 5, 5, 5, 3]);
  });

  it("puts every value in a bucket", () => {
    const values = [0.01, 0.05, 0.06, 1, 2, 2.01, 50];
    const h = latencyHistogram(values);
    assert.equal(
      h.counts.reduce((s, c) => s + c, 0),
      values.length,
    );
    assert.ok(h.edgesMs[h.edgesMs.length - 1]! >= 50);
    for (let i = 1; i < h.edgesMs.length; i++) assert.ok(h.edgesMs[i]! > h.edgesMs[i - 1]!);
  });
});
