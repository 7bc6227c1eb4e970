// rpc: gRPC balanced per call.
// Design notes: docs/verify.md ("verify/checks/rpc.ts").
import type { Namer } from "../../stack/directory.ts";
import type { Tally } from "../load.ts";
import type { CheckResult, DesiredState, ReplicaInfo } from "../schema.ts";
import { agreementCheck } from "./agreement.ts";
import { balanceCheck } from "./balance.ts";
import type { BalanceInput } from "./expected-shares.ts";
import { describeReplica, plural } from "./format.ts";
import { membershipCheck } from "./membership.ts";
import { reachabilityCheck } from "./reachability.ts";

/**
 * The balance check's input for the calls of one channel (its one connection), plus what names them;
 * `replicas` as Envoy's gRPC cluster lists them (gRPC port); `envoy` is that cluster over the load.
 */
export interface RpcInput extends Omit<BalanceInput, "connectionsOpened" | "sequential"> {
  service: string;
  serviceId: string;
  /** Calls in flight over the one channel. */
  streams: number;
  desired?: DesiredState;
  namer?: Namer;
}

/** The one replica every answered call of the channel went to, when there are several to go to. */
export function pinnedReplica(tally: Tally, replicas: readonly ReplicaInfo[]): string | undefined {
  const answered = [...tally.replicas.values()].filter((r) => r.count > 0);
  return replicas.length > 1 && answered.length === 1 && (answered[0]?.count ?? 0) >= replicas.length ? answered[0]?.hostname : undefined;
}

export function rpcCheck(i: RpcInput): CheckResult {
  const parts = [
    reachabilityCheck(i.tally, i.serviceId, i.replicas, i.envoy, i.namer),
    membershipCheck(i.tally, i.replicas, i.service, i.envoy, {
      ...(i.desired ? { desired: i.desired } : {}),
      ...(i.namer ? { namer: i.namer } : {}),
    }),
    balanceCheck({
      tally: i.tally,
      replicas: i.replicas,
      policy: i.policy,
      expect: i.expect,
      envoy: i.envoy,
      envoyWorkers: i.envoyWorkers,
      connectionsOpened: 1,
      alpha: i.alpha,
      power: i.power,
    }).check,
    agreementCheck(i.tally, i.replicas, i.envoy, i.namer),
  ];
  const head = `${plural(i.tally.sent, "call")} over 1 channel (${i.streams} streams)`;
  const pinned = pinnedReplica(i.tally, i.replicas);
  const failed = parts.filter((p) => !p.passed);
  const problems = failed.map((p) => `${p.name}: ${p.reason}`);
  if (pinned !== undefined) {
    const r = i.replicas.find((x) => x.hostname === pinned);
    const name = r ? describeReplica(r) : (i.namer?.describeHostname(pinned) ?? pinned);
    problems.unshift(
      `all ${i.tally.ok} answered calls of the one channel went to ${name} of ${i.replicas.length} replicas: pinned to one connection's replica (connection-level balancing in the path)`,
    );
  }
  const culprits = [...new Set([...(pinned !== undefined ? [pinned] : []), ...failed.flatMap((p) => p.culprits)])];
  const seen = [...i.tally.replicas.values()].map((r) => `${r.hostname} ${r.count}`).join(", ");
  return {
    name: "rpc",
    passed: problems.length === 0,
    reason:
      problems.length === 0
        ? `${head} reached ${i.tally.replicas.size} of ${i.replicas.length} replicas (${seen}); ${parts[2]?.reason ?? ""}`
        : `${head}: ${problems.join(" | ")}`,
    culprits,
    details: failed.flatMap((p) => p.details),
  };
}
