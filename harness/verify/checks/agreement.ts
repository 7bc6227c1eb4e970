// Agreement of the harness's tally with Envoy's counters.
import type { Namer } from "../../stack/directory.ts";
import type { ClusterDelta } from "../envoy-view.ts";
import type { Tally } from "../load.ts";
import type { CheckResult, ReplicaInfo } from "../schema.ts";
import { describeReplica, top } from "./format.ts";

/**
 * Envoy's per-host rq_total grew, during the load, by what the harness saw each replica answer.
 * rq_total counts upstream streams attached to a host (conn_pool_base.cc); active health checks
 * open their own connections outside the pool and do not count; retries do, as do attempts that
 * ended in an Envoy-made error. So a host's growth may exceed what the harness saw only by retries
 * and by Envoy-made error answers; any other difference fails, naming the host.
 */
export function agreementCheck(tally: Tally, replicas: readonly ReplicaInfo[], envoy: ClusterDelta, namer?: Namer): CheckResult {
  const rows: { who: string; culprit: string; envoy: number; seen: number }[] = [];
  const failures: string[] = [];
  const culprits: string[] = [];
  for (const r of replicas) {
    const h = envoy.hosts.find((x) => x.replica === r);
    const seen = tally.replicas.get(r.hostname)?.count ?? 0;
    if (!h) {
      if (seen > 0) {
        failures.push(`${describeReplica(r)} answered ${seen} but Envoy has no host for ${r.ip}${r.port ? `:${r.port}` : ""}`);
        culprits.push(r.name);
      }
      continue;
    }
    rows.push({
      who: describeReplica(r),
      culprit: r.name,
      envoy: h.delta.rq_total ?? 0,
      seen,
    });
  }
  for (const h of envoy.hosts) {
    if (h.replica) continue;
    const grew = h.delta.rq_total ?? 0;
    if (grew > 0) {
      failures.push(`Envoy sent ${grew} requests to ${namer ? namer.describeIp(h.key) : h.key}, which is no desired replica`);
      culprits.push(namer?.describeIp(h.key).match(/^container (\S+)/)?.[1] ?? h.key);
    }
  }
  // Answers with a hostname that is no replica cannot be booked against any host.
  for (const t of tally.replicas.values()) {
    if (!replicas.some((r) => r.hostname === t.hostname)) {
      failures.push(
        `${t.count} answers named ${namer ? namer.describeHostname(t.hostname) : `'${t.hostname}'`}, which matches none of Envoy's hosts`,
      );
      culprits.push(namer?.containerOf(t.hostname) ?? t.hostname);
    }
  }
  const budget = envoy.retries + [...tally.failures.values()].filter((f) => f.kind === "http").reduce((s, f) => s + f.count, 0);
  let excess = 0;
  for (const row of rows) {
    const d = row.envoy - row.seen;
    if (d < 0) {
      failures.push(
        `${row.who} answered ${row.seen} times but Envoy sent it only ${row.envoy} requests (someone else answers in its name?)`,
      );
      culprits.push(row.culprit);
    } else excess += d;
  }
  const table = rows.map((r) => `${r.who}: Envoy rq_total +${r.envoy}, harness saw ${r.seen}`);
  if (failures.length === 0 && excess > budget) {
    for (const row of rows.filter((x) => x.envoy > x.seen)) {
      failures.push(`Envoy sent ${row.who} ${row.envoy - row.seen} more requests than the harness saw it answer`);
      culprits.push(row.culprit);
    }
    failures.push(
      `${excess} extra upstream requests, of which retries (${envoy.retries}) and Envoy-made error answers explain ${budget}: other traffic reached the cluster`,
    );
  }
  if (failures.length > 0) {
    const { shown, more } = top(failures, 4);
    return {
      name: "agreement",
      passed: false,
      reason: `${shown.join("; ")}${more ? `; and ${more} more` : ""}`,
      culprits,
      details: [...failures, ...table],
    };
  }
  const exactly = excess === 0;
  return {
    name: "agreement",
    passed: true,
    reason: exactly
      ? `Envoy's per-host rq_total grew exactly by what the harness saw: ${rows.map((r) => `${r.culprit} ${r.envoy}`).join(", ")}`
      : `Envoy's per-host rq_total matches the harness's counts up to ${excess} requests explained by ${envoy.retries} retries and Envoy-made errors`,
    culprits: [],
    details: table,
  };
}
