// Balance: the test that fits the policy Envoy runs (round-robin bound or chi-square).
import type { BalanceReport, CheckResult } from "../schema.ts";
import {
  chiSquarePower,
  chiSquareSampleSize,
  chiSquareTest,
  chi2Isf,
  hardestAlternative,
  roundRobinBound,
  roundRobinDetects,
} from "../stats/index.ts";
import { plural, pct } from "./format.ts";
import { type BalanceInput, expectedShares, extraOf, MIN_POWER, RANDOM_POLICIES, ROUND_ROBIN_POLICIES } from "./expected-shares.ts";

function chiSquareSampleSizeHint(probs: readonly number[], input: BalanceInput): string {
  return `${chiSquareSampleSize(probs, { alpha: input.alpha, power: input.power }).n} requests give ${pct(input.power)}`;
}

function inconclusive(
  policy: string,
  n: number,
  base: {
    retries: number;
    unattributed: number;
    foreign: number;
    hostSetChanges: number;
  },
  why: string,
): CheckResult {
  const noise = [
    base.unattributed ? `${base.unattributed} answers named no replica` : "",
    base.retries ? `${base.retries} retries` : "",
    base.foreign ? `${base.foreign} requests from elsewhere` : "",
    base.hostSetChanges ? `${base.hostSetChanges} host-set changes` : "",
  ].filter((x) => x !== "");
  return {
    name: "balance",
    passed: false,
    reason: `${policy}: cannot judge balance from ${n} answers: ${why}${noise.length > 0 ? ` (${noise.join(", ")})` : ""}`,
    culprits: noise.length > 0 ? ["envoy"] : [],
    details: [],
  };
}

/** What every balance method starts from: the counts, the expected shares and the noise. */
interface BalanceContext {
  input: BalanceInput;
  hostnames: string[];
  counts: number[];
  n: number;
  probs: number[];
  weighted: boolean;
  notes: string[];
  maxMinRatio: number | null;
  base: Pick<
    BalanceReport,
    "hostnames" | "counts" | "expectedShares" | "weighted" | "maxMinRatio" | "retries" | "unattributed" | "hostSetChanges" | "foreign"
  >;
  /** "host2 120 (40.0 % vs 33.3 %)" */
  shareLine(i: number): string;
}

type BalanceOutcome = { check: CheckResult; report: BalanceReport };

/**
 * The balance check: the test that fits the policy Envoy runs. The deterministic round-robin bound
 * for ROUND_ROBIN (and weighted LEAST_REQUEST sent one at a time), chi-square for independent picks.
 */
export function balanceCheck(input: BalanceInput): BalanceOutcome {
  const ctx = balanceContext(input);
  if (input.replicas.length < 2) return singleReplicaBalance(ctx);
  const { policy } = input;
  const edfLeastRequest = policy === "LEAST_REQUEST" && ctx.weighted && input.sequential === true;
  if (policy === "LEAST_REQUEST") ctx.notes.push(leastRequestNote(ctx.weighted, input.sequential === true));
  if (ROUND_ROBIN_POLICIES.has(policy) || edfLeastRequest) return roundRobinBalance(ctx);
  return chiSquareBalance(ctx);
}

function leastRequestNote(weighted: boolean, sequential: boolean): string {
  if (!sequential)
    return "LEAST_REQUEST under concurrent load: the split follows the replicas' latencies, so chi-square may fail although Envoy works as designed";
  return weighted
    ? "LEAST_REQUEST measured with one request in flight: Envoy then runs EDF over the weights (tested with the round-robin bound)"
    : "LEAST_REQUEST measured with one request in flight: Envoy then picks uniformly at random (tested with chi-square)";
}

function balanceContext(input: BalanceInput): BalanceContext {
  const { tally, replicas, policy, envoy } = input;
  const hostnames = replicas.map((r) => r.hostname);
  const counts = replicas.map((r) => tally.replicas.get(r.hostname)?.count ?? 0);
  const n = counts.reduce((s, c) => s + c, 0);
  const { probs, weighted, notes } = expectedShares(replicas, policy, input.expect, envoy.hosts);
  const unexpected = [...tally.replicas.values()].filter((r) => !replicas.some((x) => x.hostname === r.hostname));
  if (unexpected.length > 0) {
    notes.push(
      `left out ${plural(
        unexpected.reduce((s, r) => s + r.count, 0),
        "answer",
      )} from hostnames that are no replica (${unexpected.map((r) => r.hostname).join(", ")})`,
    );
  }
  const min = Math.min(...counts);
  const max = Math.max(...counts);
  const maxMinRatio = counts.length > 0 && min > 0 ? max / min : null;
  const base = {
    hostnames,
    counts,
    expectedShares: probs,
    weighted,
    maxMinRatio,
    retries: envoy.retries,
    unattributed: tally.unattributed,
    hostSetChanges: envoy.membershipChanges + 2 * envoy.healthCheckFailures,
    foreign: Math.max(0, envoy.upstreamRqTotal - tally.sent - envoy.retries),
  };
  const shareLine = (i: number): string => {
    const c = counts[i]!;
    return `${hostnames[i]} ${c} (${pct(n > 0 ? c / n : 0)} vs ${pct(probs[i]!)})`;
  };
  return {
    input,
    hostnames,
    counts,
    n,
    probs,
    weighted,
    notes,
    maxMinRatio,
    base,
    shareLine,
  };
}
/** The statistics of a balance report where no test ran (one replica, or the check could not run). */
export const NO_BALANCE_TEST = {
  method: "none",
  statistic: null,
  df: null,
  pValue: null,
  alpha: null,
  bounds: null,
  deviations: null,
  power: 0,
  workers: null,
} as const satisfies Partial<BalanceReport>;

function singleReplicaBalance(ctx: BalanceContext): BalanceOutcome {
  const { input, hostnames, n, notes, base } = ctx;
  const { replicas } = input;
  const report: BalanceReport = { ...base, ...NO_BALANCE_TEST, powerNote: "one replica: nothing to balance", notes };
  const passed = replicas.length === 1 && n > 0;
  return {
    check: {
      name: "balance",
      passed,
      reason: passed ? `one replica (${hostnames[0]}) took all ${n} answers` : "no replica answered",
      culprits: passed ? [] : hostnames,
      details: notes,
    },
    report,
  };
}

/** Envoy workers that can each hold their own round-robin position: at least 1. */
function workersSeen(input: BalanceContext["input"]): number {
  return Math.max(
    1,
    Math.min(
      input.envoyWorkers > 0 ? input.envoyWorkers : Infinity,
      input.connectionsOpened > 0 ? input.connectionsOpened : Infinity,
      input.envoy.workersWithNewConnections > 0 ? input.envoy.workersWithNewConnections : Infinity,
    ),
  );
}

/** What widens the round-robin bound, for the verdict's reason. */
function slackOf(W: number, perEndpoint: boolean, bounds: number[], base: BalanceContext["base"]): string[] {
  return [
    `W=${W} worker${W === 1 ? "" : "s"}${
      perEndpoint
        ? ` × per-worker slack ≤ ${Math.max(...bounds.map((b) => (b - extraOf(base)) / (W * (1 + base.hostSetChanges)))).toFixed(2)}`
        : ""
    }`,
    base.retries ? `${base.retries} retries` : "",
    base.unattributed ? `${base.unattributed} unattributed` : "",
    base.foreign ? `${base.foreign} foreign picks` : "",
    base.hostSetChanges ? `${base.hostSetChanges} host-set changes` : "",
  ].filter((s) => s !== "");
}

function roundRobinBalance(ctx: BalanceContext): BalanceOutcome {
  const { input, hostnames, counts, n, probs, notes, maxMinRatio, base, shareLine } = ctx;
  const { policy, envoy, replicas } = input;
  const weighted = ctx.weighted;
  const W = workersSeen(input);
  const replicaHosts = replicas.map((x) => envoy.hosts.find((h) => h.replica === x));
  const endpoints = replicaHosts.map((h) => h?.endpoints ?? 1);
  // Envoy switches to EDF when its hosts' weights differ (not when replicas differ by host count).
  const perHostWeights = replicaHosts.map((h) => (h ? h.weight / h.endpoints : 1));
  const edf = input.expect === "envoy" ? perHostWeights.some((x) => x !== perHostWeights[0]) : weighted;
  const r = roundRobinBound({
    counts,
    probs,
    weighted: edf,
    endpoints,
    workers: Number.isFinite(W) ? W : 1,
    retries: base.retries,
    unattributed: base.unattributed,
    foreign: base.foreign,
    hostSetChanges: base.hostSetChanges,
  });
  const detects = roundRobinDetects(n, probs, (i) => r.bounds[i]!);
  const report: BalanceReport = {
    ...base,
    method: "round-robin-bound",
    statistic: null,
    df: null,
    pValue: null,
    alpha: null,
    bounds: r.bounds,
    deviations: r.deviations,
    power: detects ? 1 : 0,
    powerNote: detects
      ? `deterministic: a replica at half or double its weight would miss its share by more than the bound at n=${n}`
      : `n=${n} is too small for the bound to catch a replica at half or double its weight`,
    workers: W,
    notes,
  };
  const slackParts = slackOf(W, edf || endpoints.some((x) => x > 1), r.bounds, base);
  const i = r.worst;
  const check: CheckResult = !detects
    ? inconclusive(
        policy,
        n,
        base,
        `the bound (±${Math.max(...r.bounds).toFixed(1)}) is too wide for ${n} answers to catch a replica at half or double its weight`,
      )
    : r.passed
      ? {
          name: "balance",
          passed: true,
          reason: `${policy}: every count within its bound of n·share (|dev| ≤ ${r.bounds[i]!.toFixed(2)}; ${slackParts.join(", ")}): ${hostnames
            .map((_, k) => `${counts[k]} (${r.deviations[k]! >= 0 ? "+" : ""}${r.deviations[k]!.toFixed(2)})`)
            .join(", ")}; max/min ${maxMinRatio?.toFixed(3) ?? "∞"}; power 100 % (deterministic)`,
          culprits: [],
          details: notes,
        }
      : {
          name: "balance",
          passed: false,
          reason: `${policy}: ${shareLine(i)} is ${Math.abs(r.deviations[i]!).toFixed(2)} from its expected ${(n * probs[i]!).toFixed(2)}, beyond the bound ${r.bounds[i]!.toFixed(2)} (${slackParts.join(", ")})`,
          culprits: [hostnames[i]!],
          details: [...hostnames.map((_, k) => shareLine(k)), ...notes],
        };
  return { check, report };
}

function chiSquareBalance(ctx: BalanceContext): BalanceOutcome {
  const { input, hostnames, counts, n, probs, notes, maxMinRatio, base, shareLine } = ctx;
  const { policy } = input;
  const exact = RANDOM_POLICIES.has(policy);
  if (!exact) notes.push(`${policy} is not modelled exactly: tested as independent picks with chi-square`);
  const chi = chiSquareTest(counts, probs);
  const hardest = hardestAlternative(probs);
  const power = hardest ? chiSquarePower(n * hardest.lambdaPerRequest, chi.df, input.alpha) : 0;
  const report: BalanceReport = {
    ...base,
    method: "chi-square",
    // JSON has no Infinity: an expected share of 0 that still got answers is reported as null.
    statistic: Number.isFinite(chi.statistic) ? chi.statistic : null,
    df: chi.df,
    pValue: chi.pValue,
    alpha: input.alpha,
    bounds: null,
    deviations: counts.map((c, k) => c - chi.expected[k]!),
    power,
    powerNote: `power ${pct(power)} against a replica at half or double its weight (noncentral chi-square, df ${chi.df}, alpha ${input.alpha}, n ${n}; critical value ${chi2Isf(input.alpha, Math.max(1, chi.df)).toFixed(2)})`,
    workers: null,
    notes,
  };
  if (power < MIN_POWER) {
    return {
      check: inconclusive(
        policy,
        n,
        base,
        `power ${pct(power)} against a replica at half or double its weight (${n} answers; plan ${chiSquareSampleSizeHint(probs, input)})`,
      ),
      report,
    };
  }
  const passed = chi.pValue >= input.alpha;
  // The culprit is the replica contributing most to X².
  let worst = 0;
  let worstContribution = -1;
  counts.forEach((c, k) => {
    const e = chi.expected[k]!;
    const contribution = e > 0 ? ((c - e) * (c - e)) / e : c > 0 ? Infinity : 0;
    if (contribution > worstContribution) {
      worstContribution = contribution;
      worst = k;
    }
  });
  const stat = `X²=${chi.statistic.toFixed(2)} df=${chi.df} p=${chi.pValue.toExponential(2)}`;
  const check: CheckResult = passed
    ? {
        name: "balance",
        passed: true,
        reason: `${policy}: ${stat} ≥ alpha ${input.alpha} — counts ${counts.join("/")}, max/min ${maxMinRatio?.toFixed(3) ?? "∞"}, power ${pct(power)}${
          power < input.power ? ` (below the ${pct(input.power)} target: send more requests)` : ""
        }`,
        culprits: [],
        details: notes,
      }
    : {
        name: "balance",
        passed: false,
        reason: `${policy}: ${stat} < alpha ${input.alpha} — ${shareLine(worst)} is furthest off; counts ${counts.join("/")}, max/min ${maxMinRatio?.toFixed(3) ?? "∞"}`,
        culprits: [hostnames[worst]!],
        details: [...hostnames.map((_, k) => shareLine(k)), ...notes],
      };
  return { check, report };
}
