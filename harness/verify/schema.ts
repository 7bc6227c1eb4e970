// Shapes of what the verifier reads (service answers, its own inputs) and of what it writes (the
// VerifyReport), as zod schemas: the report is parsed before it is written, so verify.json always
// matches the exported type.
import { z } from "zod";
import { formatIssues, InputError } from "../lib/errors.ts";
import { observabilityPanelSchema } from "../observability/report.ts";

/** What a service replica answers: `{"hostname","ip","serviceid","success","time"}`. */
export const serviceResponseSchema = z.object({
  /** The container's hostname (Docker's short container id). */
  hostname: z.string().min(1),
  /** The replica's own address, as it sees it. */
  ip: z.union([z.ipv4(), z.ipv6()]),
  serviceid: z.string().min(1),
  success: z.boolean(),
  time: z.string(),
});
export type ServiceResponse = z.infer<typeof serviceResponseSchema>;

/**
 * One running replica of a service as the caller knows it (from Docker, or from the local test
 * fixture). `port` is needed only when replicas share an IP (local processes on 127.0.0.1): it
 * lets the verifier match Envoy's hosts (ip:port) to replicas.
 */
export const replicaInfoSchema = z.object({
  /** Container name (or any label for the replica), used in messages. */
  name: z.string().min(1),
  /** The hostname the replica answers with. */
  hostname: z.string().min(1),
  /** The replica's address as Docker reports it (also Envoy's host address). */
  ip: z.string().min(1),
  port: z.number().int().min(1).max(65535).optional(),
  /** Docker's health status, when the replica has a health check. */
  health: z.string().optional(),
});
export type ReplicaInfo = z.infer<typeof replicaInfoSchema>;

/**
 * What the desired state says beyond the running replicas (from the scale map and Docker): the
 * membership check fails on each desired replica that does not serve and on each extra container.
 */
export const desiredStateSchema = z.object({
  desired: z.number().int().min(0),
  notServing: z.array(z.object({ container: z.string(), hostname: z.string(), why: z.string(), logTail: z.array(z.string()) })),
  extras: z.array(z.object({ container: z.string(), hostname: z.string(), ip: z.string().nullable(), why: z.string() })),
  absent: z.number().int().min(0),
});
export type DesiredState = z.infer<typeof desiredStateSchema>;

export const CHECK_NAMES = [
  "reachability",
  "membership",
  "balance",
  "per-request",
  "agreement",
  "layers",
  "rpc",
  "convergence",
  "metrics",
  "tracing",
  "bytes",
] as const;
export const checkNameSchema = z.enum(CHECK_NAMES);
export type CheckName = z.infer<typeof checkNameSchema>;

export const checkResultSchema = z.object({
  name: checkNameSchema,
  passed: z.boolean(),
  /** One line: why it passed, or what failed and who the culprit is. */
  reason: z.string(),
  /** Replica hostnames, container names or Envoy hosts to blame; empty when it passed. */
  culprits: z.array(z.string()),
  /** Further lines for the report (not needed to understand the verdict). */
  details: z.array(z.string()).default([]),
});
export type CheckResult = z.infer<typeof checkResultSchema>;

const latencySchema = z.object({
  p50: z.number().nullable(),
  p90: z.number().nullable(),
  p99: z.number().nullable(),
  max: z.number().nullable(),
  mean: z.number().nullable(),
});
export type Latency = z.infer<typeof latencySchema>;

export const replicaReportSchema = z.object({
  hostname: z.string(),
  /** Container name; null for a hostname that is no known replica. */
  container: z.string().nullable(),
  /** Docker's address for the replica (null when unknown). */
  dockerIp: z.string().nullable(),
  /** Addresses the replica reported in `ip` (normally exactly one). */
  reportedIps: z.array(z.string()),
  /** Whether the hostname belongs to the expected replica set. */
  expected: z.boolean(),
  /** Responses that named this replica (any status). */
  count: z.number().int(),
  share: z.number(),
  /** Expected share (1/N, or its weight's share); null for an unexpected hostname. */
  expectedShare: z.number().nullable(),
  /** Answers from this replica that were not 200 + success:true + the right serviceid. */
  errors: z.number().int(),
  /** Latency in milliseconds, measured by the harness (request sent to body read). */
  latencyMs: latencySchema,
  /** Envoy's rq_total growth for this host during the load; null when not matched. */
  envoyRqTotal: z.number().nullable(),
});
export type ReplicaReport = z.infer<typeof replicaReportSchema>;

export const balanceReportSchema = z.object({
  /** The test used: the round-robin bound, Pearson chi-square, or none (one replica). */
  method: z.enum(["round-robin-bound", "chi-square", "none"]),
  /** Hostnames in the order of the arrays below. */
  hostnames: z.array(z.string()),
  counts: z.array(z.number().int()),
  expectedShares: z.array(z.number()),
  /** Whether the expectation comes from unequal weights. */
  weighted: z.boolean(),
  /** max count / min count over expected replicas (null when one got nothing). */
  maxMinRatio: z.number().nullable(),
  /** Chi-square statistic, df and p-value (chi-square method). */
  statistic: z.number().nullable(),
  df: z.number().int().nullable(),
  pValue: z.number().nullable(),
  alpha: z.number().nullable(),
  /** Round-robin bound per replica (round-robin method). */
  bounds: z.array(z.number()).nullable(),
  deviations: z.array(z.number()).nullable(),
  /** Power against a replica at half or double its weight (1/0 for the deterministic bound). */
  power: z.number(),
  powerNote: z.string(),
  /** Inputs of the round-robin bound. */
  workers: z.number().int().nullable(),
  retries: z.number().int(),
  unattributed: z.number().int(),
  foreign: z.number().int(),
  hostSetChanges: z.number().int(),
  notes: z.array(z.string()),
});
export type BalanceReport = z.infer<typeof balanceReportSchema>;

export const failureSchema = z.object({
  /** transport: no HTTP answer; http: non-200 without a replica named; body: unparseable 200. */
  kind: z.enum(["transport", "http", "body"]),
  status: z.number().int().nullable(),
  detail: z.string(),
  count: z.number().int(),
});
export type FailureReport = z.infer<typeof failureSchema>;

/**
 * Envoy's two layers, measured on one service: over its L4 (tcp_proxy) listener, connections per
 * replica (each connection answered by one replica); over the HTTP listener, the requests of one
 * keep-alive connection per replica.
 */
export const layersReportSchema = z.object({
  l4: z.object({
    url: z.string(),
    connections: z.number().int(),
    requests: z.number().int(),
    /** Connections answered by more than one replica (0 when the listener balances per connection). */
    mixedConnections: z.number().int(),
    /** Replica hostname → connections whose answers came from it. */
    connectionsPerReplica: z.record(z.string(), z.number().int()),
  }),
  l7: z.object({
    requests: z.number().int(),
    connections: z.number().int(),
    /** Replica hostname → requests of the one connection it answered. */
    requestsPerReplica: z.record(z.string(), z.number().int()),
  }),
  /** The same two layers for gRPC (the rpc check): the calls of one client channel per replica. */
  grpc: z
    .object({
      l4: z.object({ url: z.string(), calls: z.number().int(), callsPerReplica: z.record(z.string(), z.number().int()) }).nullable(),
      l7: z.object({ calls: z.number().int(), streams: z.number().int(), callsPerReplica: z.record(z.string(), z.number().int()) }),
    })
    .optional(),
});
export type LayersReport = z.infer<typeof layersReportSchema>;

export const serviceReportSchema = z.object({
  service: z.string(),
  path: z.string(),
  cluster: z.string(),
  serviceId: z.string(),
  lbPolicy: z.string(),
  lbPolicySource: z.string(),
  requests: z.object({
    planned: z.number().int(),
    /** How `planned` was chosen. */
    plannedBy: z.string(),
    sent: z.number().int(),
    /** 200 + success:true + right serviceid. */
    ok: z.number().int(),
    concurrency: z.number().int(),
    connections: z.number().int(),
    connectionsOpened: z.number().int(),
    durationSeconds: z.number(),
    requestsPerSecond: z.number(),
  }),
  latencyMs: latencySchema,
  /** Whole-service latency histogram: bucket upper edges in ms and counts. */
  histogram: z.object({ edgesMs: z.array(z.number()), counts: z.array(z.number().int()) }),
  replicas: z.array(replicaReportSchema),
  /** Failures that no replica can be blamed for from the answer alone. */
  failures: z.array(failureSchema),
  balance: balanceReportSchema,
  perRequest: z.object({
    requests: z.number().int(),
    connectionsOpened: z.number().int(),
    seen: z.record(z.string(), z.number().int()),
  }),
  /**
   * Bytes the verifier sent and received for this service over both loads: on the wire (its
   * sockets' counts, headers included) and in bodies (per replica hostname). For the bytes check;
   * optional, so reports written before it stay valid.
   */
  bytes: z
    .object({
      wireSent: z.number().int(),
      wireReceived: z.number().int(),
      bodySent: z.number().int(),
      bodyReceivedPerReplica: z.record(z.string(), z.number().int()),
    })
    .optional(),
  /** Envoy's two layers side by side (the layers check); absent when the check did not run. */
  layers: layersReportSchema.optional(),
  convergence: z
    .object({
      converged: z.boolean(),
      seconds: z.number().nullable(),
      afterScaleSeconds: z.number().nullable(),
      scaleSeconds: z.number(),
      rounds: z.number().int(),
      resolutionSeconds: z.number(),
    })
    .nullable(),
  checks: z.array(checkResultSchema),
  passed: z.boolean(),
});
export type ServiceReport = z.infer<typeof serviceReportSchema>;

export const verifyReportSchema = z.object({
  schemaVersion: z.literal(1),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationSeconds: z.number(),
  listenerUrl: z.string(),
  adminUrl: z.string(),
  envoy: z.object({ version: z.string(), state: z.string(), concurrency: z.number().int() }),
  settings: z.object({
    alpha: z.number(),
    power: z.number(),
    concurrency: z.number().int(),
    connections: z.number().int(),
    requests: z.number().int().nullable(),
  }),
  services: z.array(serviceReportSchema),
  /**
   * Latency, error-rate and Envoy numbers from Prometheus over the verify run (see
   * docs/observability.md, "Report panel data"); null when the panel could not be built, absent in
   * reports made without the stack's Prometheus (schemaVersion 1 reports without it stay valid).
   */
  observability: observabilityPanelSchema.nullable().optional(),
  /**
   * Seconds from the end of the load-balancing load to the verdict: the metrics and tracing waits,
   * each bounded by what it waits for. Absent when no load ran.
   */
  afterLoadSeconds: z.number().optional(),
  passed: z.boolean(),
});
export type VerifyReport = z.infer<typeof verifyReportSchema>;

export class VerifyInputError extends InputError {
  override name = "VerifyInputError";
}

/** Parses with `schema`, throwing a VerifyInputError that names `what` and the bad fields. */
export function parseOrThrow<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new VerifyInputError(`${what}: ${formatIssues(parsed.error)}`);
  return parsed.data;
}
