// Convergence after scaling: how many seconds pass from the start of a scale operation until the
// set of hostnames receiving traffic through Envoy is exactly the new replica set (new replicas in,
// removed ones out), measured by probing in rounds of requests.
import { performance } from "node:perf_hooks";
import { Pool } from "undici";
import { describeReplica, perRequestSampleSize } from "./checks/index.ts";
import { drive, Tally } from "./load.ts";
import { parseOrThrow, replicaInfoSchema, type CheckResult, type ReplicaInfo, type VerifyReport } from "./schema.ts";

export interface ConvergenceOptions {
  listenerUrl: string;
  /** e.g. /service/1 */
  path: string;
  /** serviceid every answer must carry (answers with another one still count as seen). */
  serviceId?: string;
  /** Performs the scale (e.g. `docker compose up --scale service1=5`); timing starts before it. */
  scale: () => Promise<void>;
  /**
   * The replica set expected afterwards, or a function giving it once `scale` has returned
   * (new containers' hostnames are known only then).
   */
  expected: readonly ReplicaInfo[] | (() => Promise<readonly ReplicaInfo[]>);
  /** Give up after this many seconds from the start of the scale (default 120). */
  timeoutSeconds?: number;
  /** Requests per probe round (default: enough to see every replica with p ≥ 1 − 1e-6 under random picks). */
  roundRequests?: number;
  /** Consecutive matching rounds required (default 2), so a lucky round does not end it early. */
  stableRounds?: number;
  /** Requests in flight per round (default 4). */
  concurrency?: number;
  /** Pause between rounds in ms (default 100). */
  intervalMs?: number;
  signal?: AbortSignal;
}

export interface ConvergenceRound {
  /** Seconds since the scale started, at the end of the round. */
  atSeconds: number;
  seen: Record<string, number>;
  failures: number;
  matched: boolean;
}

export interface ConvergenceResult {
  converged: boolean;
  /** Seconds from the start of the scale to the end of the first round of the final matching streak. */
  seconds: number | null;
  /** The same, counted from when `scale` returned. */
  afterScaleSeconds: number | null;
  /** How long `scale` itself took. */
  scaleSeconds: number;
  /** Longest round plus pause: the resolution of `seconds`. */
  resolutionSeconds: number;
  expected: string[];
  rounds: ConvergenceRound[];
  check: CheckResult;
}

interface Verdict {
  expected: readonly ReplicaInfo[];
  rounds: readonly ConvergenceRound[];
  /** When the final matching streak began; null when traffic never settled. */
  streakStart: number | null;
  scaleSeconds: number;
  resolution: number;
  elapsed: number;
}

function convergenceCheck(v: Verdict): CheckResult {
  const { expected, streakStart } = v;
  if (streakStart !== null) {
    const replicas = expected.length === 1 ? "expected replica" : `${expected.length} expected replicas`;
    const afterReturn = Math.max(0, streakStart - v.scaleSeconds).toFixed(2);
    const when = `${streakStart.toFixed(2)} s after the scale started (${afterReturn} s after it returned; resolution ${v.resolution.toFixed(2)} s)`;
    return { name: "convergence", passed: true, reason: `traffic reached exactly the ${replicas} ${when}`, culprits: [], details: [] };
  }
  const want = new Set(expected.map((r) => r.hostname));
  const last = v.rounds[v.rounds.length - 1];
  const missing = expected.filter((r) => !(last && (last.seen[r.hostname] ?? 0) > 0));
  const extra = last ? Object.keys(last.seen).filter((h) => !want.has(h)) : [];
  const parts = [
    missing.length > 0 ? `missed ${missing.map(describeReplica).join(", ")}` : "",
    extra.length > 0 ? `reached ${extra.join(", ")}, which ${extra.length === 1 ? "is" : "are"} not in the new set` : "",
  ];
  const what = parts.filter((s) => s !== "").join(" and ") || "did not settle";
  return {
    name: "convergence",
    passed: false,
    reason: `after ${v.elapsed.toFixed(1)} s traffic still ${what}`,
    culprits: [...missing.map((r) => r.hostname), ...extra],
    details: [],
  };
}

const POOL = (connections: number) => ({ connections, pipelining: 1, headersTimeout: 10_000, bodyTimeout: 10_000 });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The scale, started in the background: when it ended (seconds), its error, and a wait that rethrows it. */
function startScale(run: () => Promise<void>, since: () => number): { done: number | null; error: unknown; finished: () => Promise<void> } {
  const state: { done: number | null; error: unknown; finished: () => Promise<void> } = {
    done: null,
    error: undefined,
    finished: async () => {
      await running;
      if (state.error !== undefined) throw state.error;
    },
  };
  const running = run()
    .then(() => {
      state.done = since();
    })
    .catch((err: unknown) => {
      state.error = err;
      state.done = since();
    });
  return state;
}

export async function measureConvergence(opts: ConvergenceOptions): Promise<ConvergenceResult> {
  const timeoutMs = (opts.timeoutSeconds ?? 120) * 1000;
  const stable = Math.max(1, opts.stableRounds ?? 2);
  const intervalMs = opts.intervalMs ?? 100;
  const concurrency = opts.concurrency ?? 4;
  const t0 = performance.now();
  const since = (): number => (performance.now() - t0) / 1000;

  // With a fixed expected set, probing runs while the scale is still in progress.
  const scale = startScale(opts.scale, since);
  const scaled = scale.finished;
  const given = typeof opts.expected === "function" ? await scaled().then(opts.expected) : opts.expected;
  const expected = given.map((r, i) => parseOrThrow(replicaInfoSchema, r, `expected[${i}]`));
  const want = new Set(expected.map((r) => r.hostname));
  const roundRequests = opts.roundRequests ?? perRequestSampleSize(expected.map(() => 1 / Math.max(1, expected.length)));

  const pool = new Pool(new URL(opts.listenerUrl).origin, POOL(concurrency));
  const rounds: ConvergenceRound[] = [];
  let streakStart: number | null = null;
  let streak = 0;
  let resolution = 0;
  try {
    while (since() * 1000 < timeoutMs) {
      if (opts.signal?.aborted) throw opts.signal.reason instanceof Error ? opts.signal.reason : new Error("aborted");
      if (scale.error !== undefined) throw scale.error;
      const r0 = performance.now();
      const tally = new Tally(opts.serviceId);
      await drive(pool, opts.path, roundRequests, concurrency, tally, opts.signal);
      const seenNames = [...tally.replicas.values()].filter((x) => x.count > 0).map((x) => x.hostname);
      const matched = scale.done !== null && seenNames.length === want.size && seenNames.every((h) => want.has(h));
      const at = since();
      rounds.push({ atSeconds: at, seen: Object.fromEntries(tally.counts()), failures: tally.unattributed, matched });
      if (matched) {
        if (streak === 0) streakStart = at;
        streak += 1;
        if (streak >= stable) break;
      } else {
        streak = 0;
        streakStart = null;
      }
      await sleep(intervalMs);
      resolution = Math.max(resolution, (performance.now() - r0) / 1000);
    }
  } finally {
    await pool.close().catch(() => undefined);
  }
  await scaled();
  const scaleSeconds = scale.done ?? since();
  const converged = streak >= stable && streakStart !== null;
  const check = convergenceCheck({
    expected,
    rounds,
    streakStart: converged ? streakStart : null,
    scaleSeconds,
    resolution,
    elapsed: since(),
  });
  return {
    converged,
    seconds: converged ? streakStart : null,
    afterScaleSeconds: converged ? Math.max(0, streakStart! - scaleSeconds) : null,
    scaleSeconds,
    resolutionSeconds: resolution,
    expected: [...want],
    rounds,
    check,
  };
}

/** Adds a convergence result to a service of a report (a new check; `passed` recomputed). */
export function withConvergence(report: VerifyReport, service: string, result: ConvergenceResult): VerifyReport {
  const services = report.services.map((s) => {
    if (s.service !== service) return s;
    const checks = [...s.checks.filter((c) => c.name !== "convergence"), result.check];
    return {
      ...s,
      convergence: {
        converged: result.converged,
        seconds: result.seconds,
        afterScaleSeconds: result.afterScaleSeconds,
        scaleSeconds: result.scaleSeconds,
        rounds: result.rounds.length,
        resolutionSeconds: result.resolutionSeconds,
      },
      checks,
      passed: checks.every((c) => c.passed),
    };
  });
  if (!services.some((s) => s.service === service)) throw new Error(`withConvergence: the report has no service '${service}'`);
  return { ...report, services, passed: services.every((s) => s.passed) };
}
