// runVerify: for each service, load it through Envoy's listener, compare what answered with the
// replicas Docker runs and with Envoy's own counters, and return a VerifyReport. The replica list is
// an input, so the same code verifies the compose stack and the local-process fixtures.
import { attempt, type Attempt } from "../lib/attempt.ts";
import { formatIssues } from "../lib/errors.ts";
import { EnvoyAdmin } from "../envoy/admin.ts";
import { log as harnessLog } from "../lib/log.ts";
import {
  agreementCheck,
  balanceCheck,
  expectedShares,
  membershipCheck,
  perRequestCheck,
  perRequestSampleSize,
  reachabilityCheck,
  sequentialBalanceNeeded,
  type WeightExpectation,
} from "./checks/index.ts";
import { diffSnapshots, snapshotCluster } from "./envoy-view.ts";
import { bytesOfLoads, runLoad, Tally } from "./load.ts";
import { emptyBalance, unavailableCheck } from "./unrun.ts";
import {
  desiredStateSchema,
  parseOrThrow,
  replicaInfoSchema,
  type DesiredState,
  verifyReportSchema,
  VerifyInputError,
  type ReplicaInfo,
  type ReplicaReport,
  type ServiceReport,
  type VerifyReport,
} from "./schema.ts";
import type { Namer } from "../stack/directory.ts";
import { chiSquareSampleSize, latencyHistogram, summarizeLatencies } from "./stats/index.ts";
import { z } from "zod";

export interface VerifyServiceSpec {
  /** Compose service name, e.g. service1. */
  service: string;
  /** Path on Envoy's listener, e.g. /service/1. */
  path: string;
  /** Envoy cluster the path routes to. */
  cluster: string;
  /** The replicas that should answer (running containers, as Docker reports them). */
  replicas: ReplicaInfo[];
  /** serviceid every answer must carry; default: the last segment of `/service/<id>`. */
  serviceId?: string;
  /**
   * Expected shares: Envoy's host weights ("envoy", the default), equal shares ("uniform"), or
   * weights by hostname/container name.
   */
  expect?: WeightExpectation;
  /** The desired state beyond the running replicas: silent desired replicas, extra containers. */
  desired?: DesiredState;
}

export interface VerifyOptions {
  /** Envoy's listener, e.g. http://127.0.0.1:8080 */
  listenerUrl: string;
  /** Envoy's admin interface, e.g. http://127.0.0.1:9901 */
  adminUrl: string;
  services: VerifyServiceSpec[];
  /** Requests per service; 0 or undefined sizes the sample for the balance test's power. */
  requests?: number;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
  /** Keep-alive connections to Envoy (default: concurrency). */
  connections?: number;
  /** Chi-square significance level (default 1e-6, as grpc-go's balancing tests). */
  alpha?: number;
  /** Power wanted against a replica at half or double its share (default 0.99). */
  power?: number;
  /** Requests for the one-connection check (default sized so a replica is missed with p ≤ 1e-6). */
  perRequestRequests?: number;
  /** Per-request timeout in ms (default 10000). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Progress lines (default: the harness log on stderr). */
  log?: (line: string) => void;
  /** Names Envoy hosts and unknown hostnames by container (default: bare addresses). */
  namer?: Namer;
}

const optionsSchema = z.object({
  listenerUrl: z.url(),
  adminUrl: z.url(),
  services: z
    .array(
      z.object({
        service: z.string().min(1),
        path: z.string().startsWith("/"),
        cluster: z.string().min(1),
        replicas: z.array(replicaInfoSchema),
        serviceId: z.string().min(1).optional(),
        expect: z.union([z.literal("envoy"), z.literal("uniform"), z.record(z.string(), z.number().nonnegative())]).optional(),
        desired: desiredStateSchema.optional(),
      }),
    )
    .min(1),
  requests: z.number().int().min(0).optional(),
  concurrency: z.number().int().min(1).max(4096).optional(),
  connections: z.number().int().min(1).max(4096).optional(),
  alpha: z.number().gt(0).lt(1).optional(),
  power: z.number().gt(0).lt(1).optional(),
  perRequestRequests: z.number().int().min(1).optional(),
  timeoutMs: z.number().int().positive().optional(),
});

/** `/service/1` → "1". */
export function serviceIdFromPath(path: string): string | undefined {
  return /\/service\/([^/?#]+)/.exec(path)?.[1];
}

/** Requests to send for a service when none are given: the chi-square sample size (at least 100). */
export function plannedRequests(probs: readonly number[], alpha: number, power: number): { n: number; by: string } {
  const plan = chiSquareSampleSize(probs, { alpha, power });
  if (plan.n < 100) return { n: 100, by: "minimum of 100 requests" };
  return {
    n: plan.n,
    by: `chi-square sample size: ${Math.round(power * 100)} % power at alpha ${alpha} against a replica at ${plan.hardest?.factor === 0.5 ? "half" : "double"} its weight`,
  };
}

const nullable = (x: number): number | null => (Number.isFinite(x) ? x : null);

function latencyOf(values: ArrayLike<number>): ReplicaReport["latencyMs"] {
  const s = summarizeLatencies(values);
  return { p50: nullable(s.p50), p90: nullable(s.p90), p99: nullable(s.p99), max: nullable(s.max), mean: nullable(s.mean) };
}

interface RunSettings {
  listenerUrl: string;
  admin: EnvoyAdmin;
  workers: Attempt<number>;
  alpha: number;
  power: number;
  concurrency: number;
  connections: number;
  requests: number | undefined;
  perRequestRequests: number | undefined;
  timeoutMs: number | undefined;
  signal: AbortSignal | undefined;
  namer: Namer | undefined;
  say: (line: string) => void;
}

export async function runVerify(options: VerifyOptions): Promise<VerifyReport> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new VerifyInputError(`runVerify options: ${formatIssues(parsed.error)}`);
  }
  const say = options.log ?? ((line: string) => harnessLog.info(line));
  const alpha = options.alpha ?? 1e-6;
  const power = options.power ?? 0.99;
  const concurrency = options.concurrency ?? 8;
  const connections = options.connections ?? concurrency;
  const admin = new EnvoyAdmin(options.adminUrl);
  const started = new Date();
  const info = await attempt(() => admin.serverInfo(), "Envoy's admin /server_info");
  const settings: RunSettings = {
    listenerUrl: options.listenerUrl,
    admin,
    workers: info.ok ? { ok: true, value: info.value.concurrency } : info,
    alpha,
    power,
    concurrency,
    connections,
    requests: options.requests && options.requests > 0 ? options.requests : undefined,
    perRequestRequests: options.perRequestRequests,
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    namer: options.namer,
    say,
  };
  // Each service has its own Envoy cluster and replicas, so their loads run at the same time
  // without biasing each other's statistics (the round-robin bound is per worker and cluster).
  const services = await Promise.all(options.services.map((spec) => verifyService(spec, settings)));

  const finished = new Date();
  const report: VerifyReport = {
    schemaVersion: 1,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationSeconds: (finished.getTime() - started.getTime()) / 1000,
    listenerUrl: options.listenerUrl,
    adminUrl: options.adminUrl,
    envoy: info.ok
      ? { version: info.value.version, state: info.value.state, concurrency: info.value.concurrency }
      : { version: "unknown", state: info.error, concurrency: 0 },
    settings: { alpha, power, concurrency, connections, requests: settings.requests ?? null },
    services,
    passed: services.every((s) => s.passed),
  };
  return parseOrThrow(verifyReportSchema, report, "VerifyReport (internal)");
}

function parseSpec(spec: VerifyServiceSpec): { replicas: ReplicaInfo[]; serviceId: string } {
  const replicas = spec.replicas.map((r, i) => parseOrThrow(replicaInfoSchema, r, `${spec.service}.replicas[${i}]`));
  const dup = replicas.find((r, i) => replicas.findIndex((x) => x.hostname === r.hostname) !== i);
  if (dup) throw new VerifyInputError(`${spec.service}: two replicas share the hostname ${dup.hostname}`);
  const serviceId = spec.serviceId ?? serviceIdFromPath(spec.path);
  if (serviceId === undefined) throw new VerifyInputError(`${spec.service}: no serviceId given and none in path ${spec.path}`);
  return { replicas, serviceId };
}

/** Envoy's policy and counters before the load, and the requests to send. */
async function planService(spec: VerifyServiceSpec, run: RunSettings, replicas: readonly ReplicaInfo[], expect: WeightExpectation) {
  const { admin } = run;
  const policy = await attempt(() => admin.lbPolicy(spec.cluster), `Envoy's admin /config_dump for cluster ${spec.cluster}`);
  const before = await attempt(() => snapshotCluster(admin, spec.cluster), `Envoy's admin /clusters for ${spec.cluster}`);
  const policyName = policy.ok ? policy.value.policy : "UNKNOWN";
  const plan = expectedShares(replicas, policyName, expect, before.ok ? diffSnapshots(before.value, before.value, replicas).hosts : []);
  const shares = plan.probs.length > 0 ? plan.probs : [1];
  const sequential = sequentialBalanceNeeded(policyName);
  const inFlight = sequential ? 1 : run.concurrency;
  const planned = run.requests !== undefined ? { n: run.requests, by: "given" } : plannedRequests(shares, run.alpha, run.power);
  const how = `${policyName}, ${replicas.length} replicas, ${inFlight} in flight over ${run.connections} connections`;
  run.say(`verify ${spec.service}: ${planned.n} requests to ${spec.path} (${how})`);
  return { policy, before, policyName, shares, sequential, inFlight, planned };
}

type ServicePlan = Awaited<ReturnType<typeof planService>>;

/** The load, Envoy's counters after it, and the one-connection load. */
async function loadService(
  spec: VerifyServiceSpec,
  run: RunSettings,
  replicas: readonly ReplicaInfo[],
  serviceId: string,
  plan: ServicePlan,
) {
  const loadOptions = {
    listenerUrl: run.listenerUrl,
    path: spec.path,
    expectedServiceId: serviceId,
    ...(run.timeoutMs !== undefined ? { timeoutMs: run.timeoutMs } : {}),
    ...(run.signal ? { signal: run.signal } : {}),
  };
  const load = await runLoad({ ...loadOptions, requests: plan.planned.n, concurrency: plan.inFlight, connections: run.connections });
  const { before } = plan;
  const after = before.ok
    ? await attempt(() => snapshotCluster(run.admin, spec.cluster), `Envoy's admin /clusters for ${spec.cluster}`)
    : before;
  const delta = before.ok && after.ok ? diffSnapshots(before.value, after.value, replicas) : undefined;
  const envoyProblem = [plan.policy, before, after, run.workers].find((a): a is { ok: false; error: string } => !a.ok)?.error;
  const oneConnRequests = run.perRequestRequests ?? perRequestSampleSize(plan.shares);
  // A listener that answered nothing and made the load give up would make the one-connection load
  // wait out a timeout per request, one after the other: its verdict is already known.
  const listenerSilent = load.tally.ok === 0 && load.tally.abandoned > 0;
  const single = listenerSilent
    ? { tally: new Tally(serviceId), connectionsOpened: 0, durationMs: 0, bytes: { sent: 0, received: 0 } }
    : await runLoad({ ...loadOptions, requests: oneConnRequests, concurrency: 1, connections: 1 });
  return { load, delta, envoyProblem, listenerSilent, single };
}

type ServiceLoads = Awaited<ReturnType<typeof loadService>>;

function judgeService(
  spec: VerifyServiceSpec,
  run: RunSettings,
  replicas: readonly ReplicaInfo[],
  serviceId: string,
  plan: ServicePlan,
  loads: ServiceLoads,
  expect: WeightExpectation,
) {
  const { load, delta, envoyProblem, listenerSilent, single } = loads;
  const tally = load.tally;
  const missing = envoyProblem ?? "Envoy's view is missing";
  const balance =
    delta && plan.policy.ok && run.workers.ok
      ? balanceCheck({
          tally,
          replicas,
          policy: plan.policyName,
          expect,
          envoy: delta,
          envoyWorkers: run.workers.value,
          connectionsOpened: load.connectionsOpened,
          alpha: run.alpha,
          power: run.power,
          sequential: plan.sequential,
        })
      : { check: unavailableCheck("balance", missing), report: emptyBalance(replicas, tally, envoyProblem ?? "") };
  const silent = `Envoy's listener did not answer the load (${tally.consecutiveNoAnswer} requests in a row)`;
  const checks = [
    reachabilityCheck(tally, serviceId, replicas, delta, run.namer),
    membershipCheck(tally, replicas, spec.service, delta, {
      ...(spec.desired ? { desired: spec.desired } : {}),
      ...(run.namer ? { namer: run.namer } : {}),
    }),
    balance.check,
    listenerSilent ? unavailableCheck("per-request", silent) : perRequestCheck(single.tally, single.connectionsOpened, replicas, tally),
    delta ? agreementCheck(tally, replicas, delta, run.namer) : unavailableCheck("agreement", missing),
  ];
  for (const c of checks) run.say(`  ${c.passed ? "PASS" : "FAIL"} ${spec.service} ${c.name}: ${c.reason}`);
  return { balance, checks };
}

async function verifyService(spec: VerifyServiceSpec, run: RunSettings): Promise<ServiceReport> {
  const { replicas, serviceId } = parseSpec(spec);
  const expect = spec.expect ?? "envoy";
  const plan = await planService(spec, run, replicas, expect);
  const loads = await loadService(spec, run, replicas, serviceId, plan);
  const { balance, checks } = judgeService(spec, run, replicas, serviceId, plan, loads, expect);
  const { load, single, delta } = loads;
  const tally = load.tally;
  return {
    service: spec.service,
    path: spec.path,
    cluster: spec.cluster,
    serviceId,
    lbPolicy: plan.policyName,
    lbPolicySource: plan.policy.ok ? plan.policy.value.source : plan.policy.error,
    requests: {
      planned: plan.planned.n,
      plannedBy: plan.planned.by,
      sent: tally.sent,
      ok: tally.ok,
      concurrency: plan.inFlight,
      connections: run.connections,
      connectionsOpened: load.connectionsOpened,
      durationSeconds: load.durationMs / 1000,
      requestsPerSecond: load.durationMs > 0 ? tally.sent / (load.durationMs / 1000) : 0,
    },
    latencyMs: latencyOf(tally.latencies),
    histogram: latencyHistogram(tally.latencies),
    replicas: replicaRows(tally, replicas, balance.report.expectedShares, delta),
    failures: [...tally.failures.values()].sort((a, b) => b.count - a.count),
    balance: balance.report,
    perRequest: {
      requests: single.tally.sent,
      connectionsOpened: single.connectionsOpened,
      seen: Object.fromEntries(single.tally.counts()),
    },
    bytes: bytesOfLoads(load, single),
    convergence: null,
    checks,
    passed: checks.every((c) => c.passed),
  };
}

function replicaRows(
  tally: Tally,
  replicas: readonly ReplicaInfo[],
  shares: readonly number[],
  delta: ReturnType<typeof diffSnapshots> | undefined,
): ReplicaReport[] {
  const total = [...tally.replicas.values()].reduce((s, r) => s + r.count, 0);
  const rows: ReplicaReport[] = replicas.map((r, i) => {
    const t = tally.replicas.get(r.hostname);
    const host = delta?.hosts.find((h) => h.replica === r);
    return {
      hostname: r.hostname,
      container: r.name,
      dockerIp: r.ip,
      reportedIps: t ? [...t.ips.keys()] : [],
      expected: true,
      count: t?.count ?? 0,
      share: total > 0 ? (t?.count ?? 0) / total : 0,
      expectedShare: shares[i] ?? null,
      errors: t?.errors ?? 0,
      latencyMs: latencyOf(t?.latencies ?? []),
      envoyRqTotal: host ? (host.delta.rq_total ?? 0) : null,
    };
  });
  for (const t of tally.replicas.values()) {
    if (replicas.some((r) => r.hostname === t.hostname)) continue;
    rows.push({
      hostname: t.hostname,
      container: null,
      dockerIp: null,
      reportedIps: [...t.ips.keys()],
      expected: false,
      count: t.count,
      share: total > 0 ? t.count / total : 0,
      expectedShare: null,
      errors: t.errors,
      latencyMs: latencyOf(t.latencies),
      envoyRqTotal: null,
    });
  }
  return rows;
}
