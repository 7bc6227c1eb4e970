// runVerify: for each service, load it through Envoy's listener, compare what answered with the
// replicas Docker runs and with Envoy's own counters, and return a VerifyReport. The replica list is
// an input, so the same code verifies the compose stack and the local-process fixtures.
import { formatIssues } from "../config.ts";
import { EnvoyAdmin } from "../envoy/admin.ts";
import { log as harnessLog } from "../log.ts";
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
} from "./checks.ts";
import { diffSnapshots, snapshotCluster } from "./envoy-view.ts";
import { bytesOfLoads, runLoad, type Tally } from "./load.ts";
import {
  parseOrThrow,
  replicaInfoSchema,
  verifyReportSchema,
  VerifyInputError,
  type ReplicaInfo,
  type ReplicaReport,
  type ServiceReport,
  type VerifyReport,
} from "./schema.ts";
import { chiSquareSampleSize, latencyHistogram, summarizeLatencies } from "./stats.ts";
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
  const info = await admin.serverInfo();
  const services: ServiceReport[] = [];

  for (const spec of options.services) {
    const replicas = spec.replicas.map((r, i) => parseOrThrow(replicaInfoSchema, r, `${spec.service}.replicas[${i}]`));
    const dup = replicas.find((r, i) => replicas.findIndex((x) => x.hostname === r.hostname) !== i);
    if (dup) throw new VerifyInputError(`${spec.service}: two replicas share the hostname ${dup.hostname}`);
    const serviceId = spec.serviceId ?? serviceIdFromPath(spec.path);
    if (serviceId === undefined) throw new VerifyInputError(`${spec.service}: no serviceId given and none in path ${spec.path}`);
    const expect = spec.expect ?? "envoy";

    const policy = await admin.lbPolicy(spec.cluster);
    const before = await snapshotCluster(admin, spec.cluster);
    const plan = expectedShares(replicas, policy.policy, expect, diffSnapshots(before, before, replicas).hosts);
    const planShares = plan.probs;
    const sequential = sequentialBalanceNeeded(policy.policy);
    const inFlight = sequential ? 1 : concurrency;
    const planned =
      options.requests && options.requests > 0
        ? { n: options.requests, by: "given" }
        : plannedRequests(planShares.length > 0 ? planShares : [1], alpha, power);
    say(`verify ${spec.service}: ${planned.n} requests to ${spec.path} (${policy.policy}, ${replicas.length} replicas, ${inFlight} in flight over ${connections} connections)`);

    const load = await runLoad({
      listenerUrl: options.listenerUrl,
      path: spec.path,
      requests: planned.n,
      concurrency: inFlight,
      connections,
      expectedServiceId: serviceId,
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const after = await snapshotCluster(admin, spec.cluster);
    const delta = diffSnapshots(before, after, replicas);

    const oneConnRequests = options.perRequestRequests ?? perRequestSampleSize(planShares.length > 0 ? planShares : [1]);
    const single = await runLoad({
      listenerUrl: options.listenerUrl,
      path: spec.path,
      requests: oneConnRequests,
      concurrency: 1,
      connections: 1,
      expectedServiceId: serviceId,
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });

    const tally = load.tally;
    const balance = balanceCheck({
      tally,
      replicas,
      policy: policy.policy,
      expect,
      envoy: delta,
      envoyWorkers: info.concurrency,
      connectionsOpened: load.connectionsOpened,
      alpha,
      power,
      sequential,
    });
    const checks = [
      reachabilityCheck(tally, serviceId, replicas, delta),
      membershipCheck(tally, replicas, spec.service, delta),
      balance.check,
      perRequestCheck(single.tally, single.connectionsOpened, replicas, tally),
      agreementCheck(tally, replicas, delta),
    ];
    const report: ServiceReport = {
      service: spec.service,
      path: spec.path,
      cluster: spec.cluster,
      serviceId,
      lbPolicy: policy.policy,
      lbPolicySource: policy.source,
      requests: {
        planned: planned.n,
        plannedBy: planned.by,
        sent: tally.sent,
        ok: tally.ok,
        concurrency: inFlight,
        connections,
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
    for (const c of checks) say(`  ${c.passed ? "PASS" : "FAIL"} ${spec.service} ${c.name}: ${c.reason}`);
    services.push(report);
  }

  const finished = new Date();
  const report: VerifyReport = {
    schemaVersion: 1,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationSeconds: (finished.getTime() - started.getTime()) / 1000,
    listenerUrl: options.listenerUrl,
    adminUrl: options.adminUrl,
    envoy: { version: info.version, state: info.state, concurrency: info.concurrency },
    settings: { alpha, power, concurrency, connections, requests: options.requests && options.requests > 0 ? options.requests : null },
    services,
    passed: services.every((s) => s.passed),
  };
  return parseOrThrow(verifyReportSchema, report, "VerifyReport (internal)");
}

function replicaRows(
  tally: Tally,
  replicas: readonly ReplicaInfo[],
  shares: readonly number[],
  delta: ReturnType<typeof diffSnapshots>,
): ReplicaReport[] {
  const total = [...tally.replicas.values()].reduce((s, r) => s + r.count, 0);
  const rows: ReplicaReport[] = replicas.map((r, i) => {
    const t = tally.replicas.get(r.hostname);
    const host = delta.hosts.find((h) => h.replica === r);
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
