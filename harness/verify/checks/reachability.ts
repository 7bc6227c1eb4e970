// Reachability: every request answered 200, by the right service.
import type { Namer } from "../../stack/directory.ts";
import type { ClusterDelta } from "../envoy-view.ts";
import type { Tally } from "../load.ts";
import type { CheckResult, ReplicaInfo } from "../schema.ts";
import { describeReplica, top } from "./format.ts";

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
