// The rpc check of one service, against a stack: the gRPC load over one channel through Envoy's
// HTTP listener (:authority picks the service), Envoy's gRPC cluster read before and after, and,
// beside it, one channel through the service's gRPC L4 listener, the connection-level trap.
import { EnvoyAdmin } from "../envoy/admin.ts";
import { expectedShares, rpcCheck, type WeightExpectation } from "./checks/index.ts";
import { diffSnapshots, snapshotCluster } from "./envoy-view.ts";
import { runGrpcLoad } from "./grpc-load.ts";
import { plannedRequests } from "./run.ts";
import type { CheckResult, DesiredState, LayersReport, ReplicaInfo } from "./schema.ts";
import type { Namer } from "../stack/directory.ts";
import { unavailableCheck } from "./unrun.ts";

export interface RpcProbeOptions {
  adminUrl: string;
  /** Envoy's HTTP listener as host:port (gRPC shares it). */
  target: string;
  /** Envoy's gRPC L4 listener of the service as host:port, when published. */
  l4Target?: string;
  service: string;
  serviceId: string;
  authority: string;
  /** Envoy's gRPC cluster of the service. */
  cluster: string;
  replicas: readonly ReplicaInfo[];
  /** Streams in flight over the one channel (default 16). */
  streams?: number;
  /** Calls (default: the balance check's sample size for the policy). */
  calls?: number;
  expect?: WeightExpectation;
  desired?: DesiredState;
  namer?: Namer;
  alpha?: number;
  power?: number;
  timeoutMs?: number;
}

export interface RpcProbe {
  check: CheckResult;
  layers: NonNullable<LayersReport["grpc"]> | undefined;
  /** grpc-status → calls of the L7 load (for the metrics cross-check). */
  statuses: Record<string, number>;
}

const perReplica = (counts: Map<string, number>): Record<string, number> => Object.fromEntries([...counts].filter(([, n]) => n > 0));

export async function probeRpc(o: RpcProbeOptions): Promise<RpcProbe> {
  const admin = new EnvoyAdmin(o.adminUrl);
  const alpha = o.alpha ?? 1e-6;
  const power = o.power ?? 0.99;
  const streams = o.streams ?? 16;
  // Envoy lists the replicas' gRPC port in this cluster: match them by address alone.
  const replicas = o.replicas.map(({ port: _port, ...r }) => r);
  let before: Awaited<ReturnType<typeof snapshotCluster>>;
  let policy: string;
  let workers: number;
  try {
    [before, policy, workers] = await Promise.all([
      snapshotCluster(admin, o.cluster),
      admin.lbPolicy(o.cluster).then((p) => p.policy),
      admin.serverInfo().then((i) => i.concurrency),
    ]);
  } catch (err) {
    const why = `Envoy's admin for cluster ${o.cluster}: ${(err as Error).message.split("\n")[0]}`;
    return { check: unavailableCheck("rpc", why), layers: undefined, statuses: {} };
  }
  const expect = o.expect ?? "envoy";
  const plan = expectedShares(replicas, policy, expect, diffSnapshots(before, before, replicas).hosts);
  const calls = o.calls ?? plannedRequests(plan.probs.length > 0 ? plan.probs : [1], alpha, power).n;
  const common = { authority: o.authority, concurrency: streams, expectedServiceId: o.serviceId, timeoutMs: o.timeoutMs ?? 5000 };
  const load = await runGrpcLoad({ ...common, target: o.target, calls });
  const after = await snapshotCluster(admin, o.cluster).catch((err: Error) => err);
  if (after instanceof Error) {
    return {
      check: unavailableCheck("rpc", `Envoy's admin for cluster ${o.cluster}: ${after.message}`),
      layers: undefined,
      statuses: load.statuses,
    };
  }
  const check = rpcCheck({
    service: o.service,
    serviceId: o.serviceId,
    tally: load.tally,
    replicas,
    policy,
    expect,
    envoy: diffSnapshots(before, after, replicas),
    envoyWorkers: workers,
    alpha,
    power,
    streams,
    ...(o.desired ? { desired: o.desired } : {}),
    ...(o.namer ? { namer: o.namer } : {}),
  });
  // The trap, beside it: the same channel through the L4 listener, after the L7 window.
  const l4 = o.l4Target ? await runGrpcLoad({ ...common, target: o.l4Target, calls: Math.min(calls, 200) }) : undefined;
  return {
    check,
    statuses: load.statuses,
    layers: {
      l7: { calls: load.tally.sent, streams, callsPerReplica: perReplica(load.tally.counts()) },
      l4: l4 && o.l4Target ? { url: o.l4Target, calls: l4.tally.sent, callsPerReplica: perReplica(l4.tally.counts()) } : null,
    },
  };
}
