// Envoy's two layers, measured.
// Design notes: docs/verify.md ("verify/layers.ts").
import { runLoad } from "./load.ts";
import type { CheckResult, LayersReport } from "./schema.ts";

export interface LayerObservation {
  /** One entry per TCP connection through the L4 listener: the hostnames that answered on it, in order. */
  l4Connections: readonly (readonly string[])[];
  /** Hostnames that answered over one keep-alive connection through the L7 listener. */
  l7Connection: readonly string[];
  /** The running replicas' hostnames. */
  replicas: readonly string[];
}

export interface LayerVerdict {
  passed: boolean;
  reason: string;
  /** L4: connections per replica. L7: requests per replica (over the one connection). */
  l4ConnectionsPerReplica: Record<string, number>;
  l7RequestsPerReplica: Record<string, number>;
}

const count = (items: readonly string[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const i of items) out[i] = (out[i] ?? 0) + 1;
  return out;
};

const show = (d: Record<string, number>): string =>
  Object.entries(d)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([h, n]) => `${h} ${n}`)
    .join(", ");

export function layerCheck(o: LayerObservation): LayerVerdict {
  const problems: string[] = [];
  const mixed = o.l4Connections.map((c, i) => ({ i, hosts: [...new Set(c)] })).filter((c) => c.hosts.length > 1);
  for (const m of mixed)
    problems.push(`L4 connection ${m.i + 1} was answered by ${m.hosts.length} replicas (${m.hosts.join(", ")}): not connection-level`);
  const empty = o.l4Connections.filter((c) => c.length === 0).length;
  if (o.l4Connections.length === 0 || empty > 0) problems.push(`${empty || "no"} L4 connection(s) got no answer`);
  const l4 = count(o.l4Connections.flatMap((c) => (c[0] !== undefined ? [c[0]] : [])));
  const l7 = count(o.l7Connection);
  if (o.replicas.length > 1 && o.l4Connections.length >= o.replicas.length && Object.keys(l4).length < 2) {
    problems.push(`all ${o.l4Connections.length} L4 connections went to one replica: connections are not balanced`);
  }
  const unseen = o.replicas.filter((r) => !(r in l7));
  const others = Object.keys(l7).filter((h) => !o.replicas.includes(h)).length;
  if (unseen.length > 0) problems.push(`one L7 connection did not reach ${unseen.join(", ")}: not request-level`);
  const perConnection =
    o.l4Connections.length > 0 ? Math.round(o.l4Connections.reduce((a, c) => a + c.length, 0) / o.l4Connections.length) : 0;
  const summary =
    `L4: ${o.l4Connections.length} connections × ~${perConnection} requests, ${
      mixed.length === 0 ? "each on one replica" : `${mixed.length} of them on several replicas`
    } (connections per replica${mixed.length === 0 ? "" : ", by first answer"}: ${show(l4)}); ` +
    `L7: ${o.l7Connection.length} requests over one connection reached ${o.replicas.length - unseen.length} of ${o.replicas.length} replicas${
      others > 0 ? ` and ${others} other hostname${others === 1 ? "" : "s"} (membership judges those)` : ""
    } (${show(l7)})`;
  return {
    passed: problems.length === 0,
    reason: problems.length === 0 ? summary : `${problems.join("; ")} | ${summary}`,
    l4ConnectionsPerReplica: l4,
    l7RequestsPerReplica: l7,
  };
}

export interface L4ProbeOptions {
  /** Envoy's L4 listener of the service on the host, e.g. http://127.0.0.1:32771 */
  l4Url: string;
  /** The service's path (the replica answers it directly: tcp_proxy forwards the bytes as they are). */
  path: string;
  serviceId: string;
  connections: number;
  requestsPerConnection: number;
  timeoutMs?: number;
}

export interface L4Probe {
  /** Per connection, the hostnames that answered on it (each connection's counts expanded). */
  connections: string[][];
  /** Connections that needed a reconnect: their requests did not all go over one TCP connection. */
  reconnected: number;
  /** Requests that named no replica (transport errors, Envoy's or bad answers), with why; the probe stops at the first. */
  failures: string[];
}

/**
 * `connections` TCP connections to the L4 listener, one after the other, each carrying
 * `requestsPerConnection` sequential keep-alive requests: which replicas answered on each.
 */
export async function probeL4(o: L4ProbeOptions): Promise<L4Probe> {
  const out: L4Probe = { connections: [], reconnected: 0, failures: [] };
  for (let c = 0; c < o.connections; c++) {
    const load = await runLoad({
      listenerUrl: o.l4Url,
      path: o.path,
      expectedServiceId: o.serviceId,
      requests: o.requestsPerConnection,
      concurrency: 1,
      connections: 1,
      giveUpAfter: 1,
      timeoutMs: o.timeoutMs ?? 5000,
    });
    if (load.connectionsOpened > 1) out.reconnected += 1;
    out.connections.push([...load.tally.replicas.values()].flatMap((r) => Array.from({ length: r.count }, () => r.hostname)));
    for (const f of load.tally.failures.values()) out.failures.push(`${f.count} × ${f.detail}`);
    // A failure already decides the verdict: no more timeouts on a replica that hangs (the
    // reachability and membership checks name it).
    if (load.tally.unattributed > 0) break;
  }
  return out;
}

/** L4 connections to open for `replicas` replicas: three per replica, so each worker's round robin wraps. */
export const l4ConnectionsFor = (replicas: number): number => Math.max(3, 3 * replicas);

/**
 * The layers check of a service: the L4 probe beside the L7 one-connection load (its hostnames
 * with counts). `l4` undefined: the service has no L4 listener the verifier can reach (why).
 */
export function layersResult(
  l4: { url: string; probe: L4Probe } | { missing: string },
  l7: { seen: Record<string, number>; connectionsOpened: number },
  replicas: readonly { hostname: string }[],
): { check: CheckResult; report: LayersReport | undefined } {
  if ("missing" in l4) {
    return {
      check: { name: "layers", passed: false, reason: `could not run: ${l4.missing}`, culprits: [], details: [] },
      report: undefined,
    };
  }
  const l7Connection = Object.entries(l7.seen).flatMap(([h, n]) => Array.from({ length: n }, () => h));
  const v = layerCheck({ l4Connections: l4.probe.connections, l7Connection, replicas: replicas.map((r) => r.hostname) });
  const problems: string[] = [];
  if (l4.probe.failures.length > 0) problems.push(`L4 requests failed (${l4.probe.failures.join("; ")})`);
  if (l4.probe.reconnected > 0)
    problems.push(`${l4.probe.reconnected} L4 connection(s) were reopened, so their grouping is not per connection`);
  if (l7.connectionsOpened !== 1) problems.push(`the L7 load used ${l7.connectionsOpened} connections instead of one`);
  const passed = v.passed && problems.length === 0;
  const perConnection = l4.probe.connections.map((c) => c.length);
  return {
    check: {
      name: "layers",
      passed,
      reason: problems.length === 0 ? v.reason : `${problems.join("; ")} | ${v.reason}`,
      culprits: passed ? [] : ["envoy"],
      details: l4.probe.failures.map((f) => `L4: ${f}`),
    },
    report: {
      l4: {
        url: l4.url,
        connections: l4.probe.connections.length,
        requests: perConnection.reduce((a, b) => a + b, 0),
        mixedConnections: l4.probe.connections.filter((c) => new Set(c).size > 1).length,
        connectionsPerReplica: v.l4ConnectionsPerReplica,
      },
      l7: { requests: l7Connection.length, connections: l7.connectionsOpened, requestsPerReplica: v.l7RequestsPerReplica },
    },
  };
}
