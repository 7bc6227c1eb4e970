// Membership: the replicas Envoy routes to are exactly the ones that run.
import type { Namer } from "../../stack/directory.ts";
import type { ClusterDelta } from "../envoy-view.ts";
import type { Tally } from "../load.ts";
import type { CheckResult, DesiredState, ReplicaInfo } from "../schema.ts";
import { describeReplica, plural, top } from "./format.ts";

/** What the parts of the membership check found: failures with their culprits, and evidence. */
interface Findings {
  failures: string[];
  culprits: string[];
  details: string[];
}

function fail(f: Findings, culprit: string, failure: string): void {
  f.failures.push(failure);
  f.culprits.push(culprit);
}

/** The desired state first: replicas that should serve and cannot, and containers that should not. */
function desiredStateFindings(f: Findings, desired: DesiredState, tally: Tally, running: number, service: string): void {
  for (const n of desired.notServing) {
    const last = n.logTail.at(-1);
    const lastLine = last ? `; last log line: ${last.slice(0, 200)}` : "";
    fail(f, n.container, `desired replica ${n.container} (hostname ${n.hostname}) is not serving: ${n.why}${lastLine}`);
    if (n.logTail.length > 0) f.details.push(`last log lines of ${n.container}:`, ...n.logTail.map((l) => `  ${l}`));
  }
  if (desired.absent > 0) {
    const exist = `${running + desired.notServing.length} of ${desired.desired} exist`;
    const none = `${desired.absent === 1 ? "has" : "have"} no container at all`;
    const why = `(${exist}: removed? verify expects ${service}=${desired.desired})`;
    fail(f, service, `${plural(desired.absent, "desired replica")} of ${service} ${none} ${why}`);
  }
  for (const x of desired.extras) {
    const seen = tally.replicas.get(x.hostname)?.count ?? 0;
    const answered = seen > 0 ? `, and answered ${plural(seen, "request")}` : "";
    fail(f, x.container, `extra container ${x.container} (hostname ${x.hostname}${x.ip ? `, ${x.ip}` : ""}) is ${x.why}${answered}`);
  }
}

/** Why a running replica never answered, from Envoy's and Docker's view of it. */
function silentReplica(r: ReplicaInfo, envoy: ClusterDelta | undefined): string {
  const inEnvoy = envoy?.hosts.find((h) => h.replica === r);
  const why = !envoy
    ? ""
    : !inEnvoy
      ? " (not among Envoy's hosts)"
      : inEnvoy.healthy
        ? ""
        : ` (Envoy marks it unhealthy: ${inEnvoy.healthFlags.join(", ")})`;
  const health = r.health && r.health !== "healthy" ? ` (Docker health: ${r.health})` : "";
  return `running replica ${describeReplica(r)} never answered${why}${health}`;
}

/** Each running replica answered, from the address Docker gives it. */
function replicaFindings(f: Findings, tally: Tally, replicas: readonly ReplicaInfo[], envoy: ClusterDelta | undefined): void {
  for (const r of replicas) {
    const seen = tally.replicas.get(r.hostname);
    if (!seen || seen.count === 0) {
      fail(f, r.name, silentReplica(r, envoy));
      continue;
    }
    const wrongIps = [...seen.ips.keys()].filter((ip) => ip !== r.ip);
    if (wrongIps.length > 0) fail(f, r.name, `${describeReplica(r)} reported ip ${wrongIps.join(", ")} but Docker gives ${r.ip}`);
  }
}

/** Envoy's host list against the replicas: evidence for the details, never a failure. */
function envoyDetails(f: Findings, envoy: ClusterDelta, replicas: readonly ReplicaInfo[], service: string, namer?: Namer): void {
  for (const h of envoy.hosts) {
    if (!h.replica) f.details.push(`Envoy routes to ${namer ? namer.describeIp(h.key) : h.key}, which is no desired replica of ${service}`);
  }
  for (const r of replicas) {
    if (!envoy.hosts.some((h) => h.replica === r))
      f.details.push(`Envoy has no host for ${describeReplica(r)} (${r.ip}${r.port ? `:${r.port}` : ""})`);
  }
}

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
  const f: Findings = { failures: [], culprits: [], details: [] };
  if (desired) desiredStateFindings(f, desired, tally, replicas.length, service);
  const extraHostnames = new Set(desired?.extras.map((x) => x.hostname) ?? []);
  for (const r of tally.replicas.values()) {
    if (!expected.has(r.hostname) && !extraHostnames.has(r.hostname)) {
      const who = namer ? namer.describeHostname(r.hostname) : `'${r.hostname}'`;
      fail(
        f,
        namer?.containerOf(r.hostname) ?? r.hostname,
        `${who} answered ${plural(r.count, "request")} but is not a desired replica of ${service}`,
      );
    }
  }
  replicaFindings(f, tally, replicas, envoy);
  if (envoy) envoyDetails(f, envoy, replicas, service, namer);
  const { failures, culprits, details } = f;
  if (failures.length === 0) {
    const of = desired ? ` of ${desired.desired} desired` : "";
    const answered = `all ${plural(replicas.length, "running replica")}${of} answered (${replicas.map((r) => r.hostname).join(", ")})`;
    return { name: "membership", passed: true, reason: `${answered}, no other hostname, ips match Docker`, culprits: [], details };
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
