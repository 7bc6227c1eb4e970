// Verdicts for checks that could not run. A check whose data cannot be had (Envoy's admin silent,
// no running Envoy, Docker failing) still gives its verdict: FAIL, with the reason, so that the
// other checks run and the reports say what happened instead of showing nothing.
import { NO_BALANCE_TEST } from "./checks/index.ts";
import type { Tally } from "./load.ts";
import type { BalanceReport, CheckName, CheckResult, ReplicaInfo, ServiceReport } from "./schema.ts";

/** A check that could not run: a FAIL with the reason, never a thrown error. */
export function unavailableCheck(name: CheckName, reason: string): CheckResult {
  return { name, passed: false, reason: `could not run: ${reason}`, culprits: [], details: [] };
}

/** The balance report of a balance check that could not run. */
export function emptyBalance(replicas: readonly ReplicaInfo[], tally: Tally | undefined, why: string): BalanceReport {
  return {
    ...NO_BALANCE_TEST,
    hostnames: replicas.map((r) => r.hostname),
    counts: replicas.map((r) => tally?.replicas.get(r.hostname)?.count ?? 0),
    expectedShares: replicas.map(() => 1 / Math.max(1, replicas.length)),
    weighted: false,
    maxMinRatio: null,
    powerNote: why,
    retries: 0,
    unattributed: tally?.unattributed ?? 0,
    foreign: 0,
    hostSetChanges: 0,
    notes: [],
  };
}

const LOAD_CHECKS: readonly CheckName[] = ["reachability", "membership", "balance", "per-request", "agreement"];

/** A service whose load could not be sent at all: every load-balancing check fails with `reason`. */
export function unrunServiceReport(
  s: { service: string; path: string; cluster: string; serviceId: string },
  reason: string,
): ServiceReport {
  const nothing = { p50: null, p90: null, p99: null, max: null, mean: null };
  return {
    ...s,
    lbPolicy: "UNKNOWN",
    lbPolicySource: reason,
    requests: {
      planned: 0,
      plannedBy: "not sent",
      sent: 0,
      ok: 0,
      concurrency: 0,
      connections: 0,
      connectionsOpened: 0,
      durationSeconds: 0,
      requestsPerSecond: 0,
    },
    latencyMs: nothing,
    histogram: { edgesMs: [], counts: [] },
    replicas: [],
    failures: [],
    balance: emptyBalance([], undefined, reason),
    perRequest: { requests: 0, connectionsOpened: 0, seen: {} },
    convergence: null,
    checks: LOAD_CHECKS.map((name) => unavailableCheck(name, reason)),
    passed: false,
  };
}
