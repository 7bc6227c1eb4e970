// Membership: the replicas Envoy routes to are exactly the ones that run.
import type { Namer } from "../../stack/directory.ts";
import type { ClusterDelta } from "../envoy-view.ts";
import type { Tally } from "../load.ts";
import type { CheckResult, DesiredState, ReplicaInfo } from "../schema.ts";
import { describeReplica, plural, top } from "./format.ts";

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
