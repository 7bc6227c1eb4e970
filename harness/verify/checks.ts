// The named checks. Each takes what was measured (the harness's tally, Envoy's counters, the
// replica list) and returns a verdict with a one-line reason that names the culprit. They do no
// I/O, so every "no" can be unit-tested with made-up numbers.
import type { ClusterDelta, HostDelta } from "./envoy-view.ts";
import type { Tally } from "./load.ts";
import type { BalanceReport, CheckResult, DesiredState, Namer, ReplicaInfo } from "./schema.ts";
import {
  chiSquarePower,
  chiSquareSampleSize,
  chiSquareTest,
  chi2Isf,
  hardestAlternative,
  roundRobinBound,
  roundRobinDetects,
  toProbabilities,
} from "./stats.ts";

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** "container stack-service1-2 (hostname 3f2a9c1d0b7e, 172.20.0.5)": what a person looks for. */
export function describeReplica(r: ReplicaInfo): string {
  const address = r.port ? `${r.ip}:${r.port}` : r.ip;
  return r.name === r.hostname ? `${r.hostname} (${address})` : `container ${r.name} (hostname ${r.hostname}, ${address})`;
}

function top<T>(items: T[], n = 5): { shown: T[]; more: number } {
  return { shown: items.slice(0, n), more: Math.max(0, items.length - n) };
}

// ---------------------------------------------------------------------------------------------
// 1. Reachability
// ---------------------------------------------------------------------------------------------

/** Every request answered 200 with success:true and the right serviceid. */
export function reachabilityCheck(
  tally: Tally,
  serviceId: string,
  replicas: readonly ReplicaInfo[],
  envoy?: ClusterDelta,
  namer?: Namer,
): CheckResult {
  if (tally.sent === 0)
    return {
      name: "reachability",
      passed: false,
      reason: "no request was sent",
      culprits: [],
      details: [],
    };
  if (tally.ok === tally.sent) {
    return {
      name: "reachability",
      passed: true,
      reason: `${tally.ok}/${tally.sent} answered 200 with success=true and serviceid=${serviceId}`,
      culprits: [],
      details: [],
    };
  }
  const byHostname = new Map(replicas.map((r) => [r.hostname, r]));
  const problems: string[] = [];
  const culprits: string[] = [];
  for (const r of [...tally.replicas.values()].filter((x) => x.errors > 0).sort((a, b) => b.errors - a.errors)) {
    const kinds = [...r.errorKinds].map(([k, n]) => `${n} × ${k}`).join(", ");
    const known = byHostname.get(r.hostname);
    problems.push(`replica ${known ? describeReplica(known) : `'${r.hostname}'`} answered ${kinds}`);
    culprits.push(known?.name ?? r.hostname);
  }
  for (const f of [...tally.failures.values()].sort((a, b) => b.count - a.count)) {
    const what =
      f.kind === "transport" ? "no answer from Envoy's listener" : f.kind === "http" ? `HTTP ${f.status} from Envoy` : "unreadable 200";
    problems.push(`${f.count} × ${what} (${f.detail})`);
  }
  // Envoy's per-host failure counters point at the replica behind Envoy-made errors.
  const details: string[] = [];
  for (const h of envoy?.hosts ?? []) {
    const bad = ["cx_connect_fail", "rq_error", "rq_timeout"].filter((k) => (h.delta[k] ?? 0) > 0);
    if (bad.length === 0 && h.healthy) continue;
    const who = h.replica ? describeReplica(h.replica) : `Envoy host ${namer ? namer.describeIp(h.key) : h.key}, no desired replica`;
    const counters = bad.map((k) => `${k} +${h.delta[k]}`).join(", ");
    const health = h.healthy ? "" : ` [unhealthy: ${h.healthFlags.join(", ")}]`;
    details.push(`Envoy counted for ${who}: ${counters}${health}`);
    const name = h.replica?.name ?? h.key;
    if (!culprits.includes(name)) culprits.push(name);
  }
  if (envoy && envoy.retryOverflows > 0) {
    details.push(`Envoy refused ${envoy.retryOverflows} retries (upstream_rq_retry_overflow: the cluster's max_retries circuit breaker)`);
  }
  if (tally.abandoned > 0) {
    problems.unshift(`the load stopped after ${tally.consecutiveNoAnswer} requests in a row got no answer (${tally.abandoned} not sent)`);
  }
  const { shown, more } = top(problems, 4);
  return {
    name: "reachability",
    passed: false,
    reason: `${tally.sent - tally.ok}/${tally.sent} requests failed: ${shown.join("; ")}${more ? `; and ${more} more` : ""}${
      details.length > 0 ? `; ${details[0]}` : ""
    }`,
    culprits,
    details: [...problems, ...details],
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Membership
// ---------------------------------------------------------------------------------------------

/**
 * The hostnames that answered are exactly the running replicas; each replica reported Docker's
 * address. Envoy's host list is compared too, as extra evidence in the details.
 */
export function membershipCheck(
  tally: Tally,
  replicas: readonly ReplicaInfo[],
  service: string,
  envoy?: ClusterDelta,
  context: { desired?: DesiredState; namer?: Namer } = {},
): CheckResult {
  const { desired, namer } = context;
  const expected = new Map(replicas.map((r) => [r.hostname, r]));
  const failures: string[] = [];
  const culprits: string[] = [];
  const details: string[] = [];
  // The desired state first: replicas that should serve and cannot, and containers that should not.
  if (desired) {
    for (const n of desired.notServing) {
      const last = n.logTail.at(-1);
      failures.push(
        `desired replica ${n.container} (hostname ${n.hostname}) is not serving: ${n.why}${last ? `; last log line: ${last.slice(0, 200)}` : ""}`,
      );
      culprits.push(n.container);
      if (n.logTail.length > 0) details.push(`last log lines of ${n.container}:`, ...n.logTail.map((l) => `  ${l}`));
    }
    if (desired.absent > 0) {
      failures.push(
        `${plural(desired.absent, "desired replica")} of ${service} ${desired.absent === 1 ? "has" : "have"} no container at all (${replicas.length + desired.notServing.length} of ${desired.desired} exist: removed? verify expects ${service}=${desired.desired})`,
      );
      culprits.push(service);
    }
    for (const x of desired.extras) {
      const seen = tally.replicas.get(x.hostname)?.count ?? 0;
      failures.push(
        `extra container ${x.container} (hostname ${x.hostname}${x.ip ? `, ${x.ip}` : ""}) is ${x.why}${seen > 0 ? `, and answered ${plural(seen, "request")}` : ""}`,
      );
      culprits.push(x.container);
    }
  }
  const extraHostnames = new Set(desired?.extras.map((x) => x.hostname) ?? []);
  for (const r of tally.replicas.values()) {
    if (!expected.has(r.hostname) && !extraHostnames.has(r.hostname)) {
      const who = namer ? namer.describeHostname(r.hostname) : `'${r.hostname}'`;
      failures.push(`${who} answered ${plural(r.count, "request")} but is not a desired replica of ${service}`);
      culprits.push(namer?.containerOf(r.hostname) ?? r.hostname);
    }
  }
  for (const r of replicas) {
    const seen = tally.replicas.get(r.hostname);
    if (!seen || seen.count === 0) {
      const inEnvoy = envoy?.hosts.find((h) => h.replica === r);
      const why = envoy
        ? inEnvoy
          ? inEnvoy.healthy
            ? ""
            : ` (Envoy marks it unhealthy: ${inEnvoy.healthFlags.join(", ")})`
          : " (not among Envoy's hosts)"
        : "";
      const health = r.health && r.health !== "healthy" ? ` (Docker health: ${r.health})` : "";
      failures.push(`running replica ${describeReplica(r)} never answered${why}${health}`);
      culprits.push(r.name);
      continue;
    }
    const wrongIps = [...seen.ips.keys()].filter((ip) => ip !== r.ip);
    if (wrongIps.length > 0) {
      failures.push(`${describeReplica(r)} reported ip ${wrongIps.join(", ")} but Docker gives ${r.ip}`);
      culprits.push(r.name);
    }
  }
  if (envoy) {
    for (const h of envoy.hosts) {
      if (!h.replica) details.push(`Envoy routes to ${namer ? namer.describeIp(h.key) : h.key}, which is no desired replica of ${service}`);
    }
    for (const r of replicas) {
      if (!envoy.hosts.some((h) => h.replica === r))
        details.push(`Envoy has no host for ${describeReplica(r)} (${r.ip}${r.port ? `:${r.port}` : ""})`);
    }
  }
  if (failures.length === 0) {
    const of = desired ? ` of ${desired.desired} desired` : "";
    return {
      name: "membership",
      passed: true,
      reason: `all ${plural(replicas.length, "running replica")}${of} answered (${replicas.map((r) => r.hostname).join(", ")}), no other hostname, ips match Docker`,
      culprits: [],
      details,
    };
  }
  const { shown, more } = top(failures, 4);
  return {
    name: "membership",
    passed: false,
    reason: `${shown.join("; ")}${more ? `; and ${more} more` : ""}`,
    culprits: [...new Set(culprits)],
    details: [...failures, ...details],
  };
}

// ---------------------------------------------------------------------------------------------
// 3. Balance
// ---------------------------------------------------------------------------------------------

export type WeightExpectation = "envoy" | "uniform" | Record<string, number>;

export interface BalanceInput {
  tally: Tally;
  replicas: readonly ReplicaInfo[];
  /** The policy Envoy runs (from /config_dump). */
  policy: string;
  /** Where the expected shares come from. */
  expect: WeightExpectation;
  envoy: ClusterDelta;
  /** Envoy's worker threads (/server_info). */
  envoyWorkers: number;
  /** Connections the harness opened for the load. */
  connectionsOpened: number;
  alpha: number;
  power: number;
  /** Whether the load was sent one request at a time (see sequentialBalanceNeeded). */
  sequential?: boolean;
}

/**
 * LEAST_REQUEST looks at active requests when it picks, so under concurrent load its split
 * follows the replicas' latencies: that is its purpose, but it leaves no fixed expectation to test
 * (measured: 6 of 100 healthy runs at 8 in flight failed chi-square at alpha 1e-6, each time the
 * replica with the higher p50 got less). With one request in flight every host has 0 active
 * requests at every pick, and Envoy's choice is exactly known: with equal weights the first of
 * the two random choices wins every tie, i.e. a uniform random pick (chi-square is exact); with
 * unequal weights weight/(0+1) is the plain weight and Envoy runs the same EDF schedule as
 * weighted round robin (the deterministic bound applies). runVerify therefore sends the load of a
 * LEAST_REQUEST cluster one request at a time.
 */
export function sequentialBalanceNeeded(policy: string): boolean {
  return policy === "LEAST_REQUEST";
}

/**
 * Below this power the balance check refuses to pass: a test more likely to miss a replica at half
 * or double its share than to catch it proves nothing. (The default sample is sized for 99 %.)
 */
export const MIN_POWER = 0.5;

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

const extraOf = (b: { retries: number; unattributed: number; foreign: number }): number => b.retries + b.unattributed + b.foreign;

/** Which Envoy policies the deterministic round-robin bound applies to. */
const ROUND_ROBIN_POLICIES = new Set(["ROUND_ROBIN"]);
/** Policies whose picks are (close to) independent draws, tested with chi-square. */
const RANDOM_POLICIES = new Set(["RANDOM", "LEAST_REQUEST"]);

/** Expected shares for the replicas, and notes on where they came from. */
export function expectedShares(
  replicas: readonly ReplicaInfo[],
  policy: string,
  expect: WeightExpectation,
  envoyHosts: readonly HostDelta[],
): { probs: number[]; weighted: boolean; notes: string[] } {
  const notes: string[] = [];
  const uniform = replicas.map(() => 1 / replicas.length);
  if (replicas.length === 0) return { probs: [], weighted: false, notes };
  if (expect === "uniform")
    return {
      probs: uniform,
      weighted: false,
      notes: ["expected shares: uniform (as requested)"],
    };
  if (typeof expect === "object") {
    const weights = replicas.map((r) => expect[r.hostname] ?? expect[r.name]);
    if (weights.some((w) => w === undefined || !(w >= 0))) {
      notes.push("expected weights do not cover every replica: testing against uniform shares");
      return { probs: uniform, weighted: false, notes };
    }
    const w = weights as number[];
    return {
      probs: toProbabilities(w),
      weighted: w.some((x) => x !== w[0]),
      notes: [`expected weights (given): ${w.join(":")}`],
    };
  }
  const hosts = replicas.map((r) => envoyHosts.find((h) => h.replica === r));
  if (hosts.some((h) => h === undefined)) {
    notes.push("not every replica is one of Envoy's hosts: testing against uniform shares");
    return { probs: uniform, weighted: false, notes };
  }
  const found = hosts as HostDelta[];
  const w = found.map((h) => h.weight);
  const k = found.map((h) => h.endpoints);
  if (k.some((x) => x > 1))
    notes.push(`Envoy lists some replicas more than once (${replicas.map((r, i) => `${r.hostname}×${k[i]}`).join(", ")})`);
  if (policy === "RANDOM") {
    // Envoy 1.40's RandomLoadBalancer picks hosts_to_use[random % size]: weights play no part,
    // only how many hosts a replica is.
    if (new Set(w.map((x, i) => x / k[i]!)).size > 1) {
      notes.push(
        `Envoy's host weights ${w.join(":")} are ignored by the RANDOM policy: expecting ${k.every((x) => x === k[0]) ? "uniform shares" : "shares by host count"}`,
      );
    }
    return {
      probs: toProbabilities(k),
      weighted: k.some((x) => x !== k[0]),
      notes,
    };
  }
  const unequal = w.some((x) => x !== w[0]);
  if (unequal) notes.push(`expected shares from Envoy's host weights ${w.join(":")}`);
  return { probs: toProbabilities(w), weighted: unequal, notes };
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

function roundRobinBalance(ctx: BalanceContext): BalanceOutcome {
  const { input, hostnames, counts, n, probs, notes, maxMinRatio, base, shareLine } = ctx;
  const { policy, envoy, replicas } = input;
  const weighted = ctx.weighted;
  const W = Math.max(
    1,
    Math.min(
      input.envoyWorkers > 0 ? input.envoyWorkers : Infinity,
      input.connectionsOpened > 0 ? input.connectionsOpened : Infinity,
      envoy.workersWithNewConnections > 0 ? envoy.workersWithNewConnections : Infinity,
    ),
  );
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
  const slackParts = [
    `W=${W} worker${W === 1 ? "" : "s"}${
      edf || endpoints.some((x) => x > 1)
        ? ` × per-worker slack ≤ ${Math.max(...r.bounds.map((b) => (b - extraOf(base)) / (W * (1 + base.hostSetChanges)))).toFixed(2)}`
        : ""
    }`,
    base.retries ? `${base.retries} retries` : "",
    base.unattributed ? `${base.unattributed} unattributed` : "",
    base.foreign ? `${base.foreign} foreign picks` : "",
    base.hostSetChanges ? `${base.hostSetChanges} host-set changes` : "",
  ].filter((s) => s !== "");
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

// ---------------------------------------------------------------------------------------------
// 4. Per-request balancing over one connection
// ---------------------------------------------------------------------------------------------

/** Requests over one connection that miss a replica of share p with probability ≤ 1e-6 (random picks). */
export function perRequestSampleSize(probs: readonly number[], missProbability = 1e-6): number {
  if (probs.length <= 1) return 4;
  const pMin = Math.min(...probs);
  const random = Math.ceil(Math.log(missProbability / probs.length) / Math.log(1 - pMin));
  return Math.max(2 * probs.length, random);
}

export function perRequestCheck(
  tally: Tally,
  connectionsOpened: number,
  replicas: readonly ReplicaInfo[],
  /** The main load's tally: tells a replica that is down from one this connection never reaches. */
  mainLoad?: Tally,
): CheckResult {
  const seen = replicas.filter((r) => (tally.replicas.get(r.hostname)?.count ?? 0) > 0);
  const missing = replicas.filter((r) => !seen.includes(r));
  if (connectionsOpened !== 1) {
    return {
      name: "per-request",
      passed: false,
      reason: `the ${tally.sent} requests needed ${connectionsOpened} connections instead of one keep-alive connection (Envoy closed it?), so per-request balancing is not shown`,
      culprits: ["envoy"],
      details: [],
    };
  }
  if (missing.length === 0) {
    return {
      name: "per-request",
      passed: true,
      reason: `over one keep-alive connection, ${tally.sent} requests reached all ${replicas.length} replicas (${replicas
        .map((r) => `${r.hostname} ${tally.replicas.get(r.hostname)?.count ?? 0}`)
        .join(", ")}): Envoy balances per request (L7)`,
      culprits: [],
      details: [],
    };
  }
  return {
    name: "per-request",
    passed: false,
    reason: `over one keep-alive connection, ${tally.sent} requests reached only ${seen.map((r) => r.hostname).join(", ") || "no replica"}; never ${missing
      .map(describeReplica)
      .join(", ")}${
      mainLoad && missing.every((r) => (mainLoad.replicas.get(r.hostname)?.count ?? 0) === 0)
        ? " (which answered no request of the main load either)"
        : " although the main load reached them: Envoy balances per connection (L4) or pins connections"
    }`,
    culprits: missing.map((r) => r.hostname),
    details: [],
  };
}

// ---------------------------------------------------------------------------------------------
// 5. Agreement with Envoy's counters
// ---------------------------------------------------------------------------------------------

/**
 * Envoy's per-host rq_total grew, during the load, by what the harness saw each replica answer.
 * rq_total counts upstream streams attached to a host (conn_pool_base.cc); active health checks
 * open their own connections outside the pool and do not count; retries do, as do attempts that
 * ended in an Envoy-made error. So a host's growth may exceed what the harness saw only by retries
 * and by Envoy-made error answers; any other difference fails, naming the host.
 */
export function agreementCheck(tally: Tally, replicas: readonly ReplicaInfo[], envoy: ClusterDelta, namer?: Namer): CheckResult {
  const rows: { who: string; culprit: string; envoy: number; seen: number }[] = [];
  const failures: string[] = [];
  const culprits: string[] = [];
  for (const r of replicas) {
    const h = envoy.hosts.find((x) => x.replica === r);
    const seen = tally.replicas.get(r.hostname)?.count ?? 0;
    if (!h) {
      if (seen > 0) {
        failures.push(`${describeReplica(r)} answered ${seen} but Envoy has no host for ${r.ip}${r.port ? `:${r.port}` : ""}`);
        culprits.push(r.name);
      }
      continue;
    }
    rows.push({
      who: describeReplica(r),
      culprit: r.name,
      envoy: h.delta.rq_total ?? 0,
      seen,
    });
  }
  for (const h of envoy.hosts) {
    if (h.replica) continue;
    const grew = h.delta.rq_total ?? 0;
    if (grew > 0) {
      failures.push(`Envoy sent ${grew} requests to ${namer ? namer.describeIp(h.key) : h.key}, which is no desired replica`);
      culprits.push(namer?.describeIp(h.key).match(/^container (\S+)/)?.[1] ?? h.key);
    }
  }
  // Answers with a hostname that is no replica cannot be booked against any host.
  for (const t of tally.replicas.values()) {
    if (!replicas.some((r) => r.hostname === t.hostname)) {
      failures.push(
        `${t.count} answers named ${namer ? namer.describeHostname(t.hostname) : `'${t.hostname}'`}, which matches none of Envoy's hosts`,
      );
      culprits.push(namer?.containerOf(t.hostname) ?? t.hostname);
    }
  }
  const budget = envoy.retries + [...tally.failures.values()].filter((f) => f.kind === "http").reduce((s, f) => s + f.count, 0);
  let excess = 0;
  for (const row of rows) {
    const d = row.envoy - row.seen;
    if (d < 0) {
      failures.push(
        `${row.who} answered ${row.seen} times but Envoy sent it only ${row.envoy} requests (someone else answers in its name?)`,
      );
      culprits.push(row.culprit);
    } else excess += d;
  }
  const table = rows.map((r) => `${r.who}: Envoy rq_total +${r.envoy}, harness saw ${r.seen}`);
  if (failures.length === 0 && excess > budget) {
    for (const row of rows.filter((x) => x.envoy > x.seen)) {
      failures.push(`Envoy sent ${row.who} ${row.envoy - row.seen} more requests than the harness saw it answer`);
      culprits.push(row.culprit);
    }
    failures.push(
      `${excess} extra upstream requests, of which retries (${envoy.retries}) and Envoy-made error answers explain ${budget}: other traffic reached the cluster`,
    );
  }
  if (failures.length > 0) {
    const { shown, more } = top(failures, 4);
    return {
      name: "agreement",
      passed: false,
      reason: `${shown.join("; ")}${more ? `; and ${more} more` : ""}`,
      culprits,
      details: [...failures, ...table],
    };
  }
  const exactly = excess === 0;
  return {
    name: "agreement",
    passed: true,
    reason: exactly
      ? `Envoy's per-host rq_total grew exactly by what the harness saw: ${rows.map((r) => `${r.culprit} ${r.envoy}`).join(", ")}`
      : `Envoy's per-host rq_total matches the harness's counts up to ${excess} requests explained by ${envoy.retries} retries and Envoy-made errors`,
    culprits: [],
    details: table,
  };
}
