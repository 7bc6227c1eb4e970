// Envoy's two layers, measured: over an L4 (tcp_proxy) listener a TCP connection is bound to one
// replica for its life, so balancing happens per connection; over the L7 (HTTP) listener one
// keep-alive connection reaches every replica, because Envoy balances per request. Input: the
// replica (hostname) that answered each request, grouped by the client connection it went over.
// Pure: the verdict and both distributions, side by side, for the terminal and the report.
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
  if (unseen.length > 0) problems.push(`one L7 connection did not reach ${unseen.join(", ")}: not request-level`);
  const perConnection =
    o.l4Connections.length > 0 ? Math.round(o.l4Connections.reduce((a, c) => a + c.length, 0) / o.l4Connections.length) : 0;
  const summary =
    `L4: ${o.l4Connections.length} connections × ~${perConnection} requests, each on one replica (connections per replica: ${show(l4)}); ` +
    `L7: ${o.l7Connection.length} requests over one connection reached ${Object.keys(l7).length} of ${o.replicas.length} replicas (${show(l7)})`;
  return {
    passed: problems.length === 0,
    reason: problems.length === 0 ? summary : `${problems.join("; ")} | ${summary}`,
    l4ConnectionsPerReplica: l4,
    l7RequestsPerReplica: l7,
  };
}
