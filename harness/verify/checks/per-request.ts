// Per-request balancing over one connection.
import type { Tally } from "../load.ts";
import type { CheckResult, ReplicaInfo } from "../schema.ts";
import { describeReplica } from "./format.ts";

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
