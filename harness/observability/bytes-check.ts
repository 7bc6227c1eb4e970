// The bytes check: Prometheus' byte counters over the verify run agree with what the verifier itself
// sent and received, per service (docs/observability.md, "Module notes").
import type { ObservabilityPanel } from "./report.ts";
import type { ObservabilityCheckResult } from "./types.ts";

/** What the verifier counted for one service over its loads. */
export interface VerifierBytes {
  service: string;
  /** Envoy cluster; defaults to the service name. */
  cluster?: string;
  /** Bytes its sockets to Envoy's listener wrote and read (headers included). */
  wire: { sent: number; received: number };
  /** Request body bytes sent (0 for GETs). */
  bodySent: number;
  /** Response body bytes of the answers naming each replica, by hostname. */
  bodyReceivedPerReplica: Record<string, number>;
}

const isNum = (v: number | null | undefined): v is number => typeof v === "number" && Number.isFinite(v);

/** `1234567` as "1234567 B" — exact, since the check compares to the byte. */
const bytes = (n: number): string => `${Math.round(n)} B`;

function compare(
  problems: string[],
  what: string,
  prometheus: number | null | undefined,
  verifier: number,
  verb: string,
  tolerance: number,
): void {
  if (!isNum(prometheus)) problems.push(`${what}: Prometheus has no data (the verifier ${verb} ${bytes(verifier)})`);
  else if (Math.abs(prometheus - verifier) > tolerance)
    problems.push(`${what}: Prometheus counts ${bytes(prometheus)}, the verifier ${verb} ${bytes(verifier)}`);
}

/**
 * One result per service. `tolerance` (default 0) allows that many bytes of difference per
 * comparison: the counters and the sockets count the same bytes, so the default is exact.
 */
export function bytesCheck(
  panel: ObservabilityPanel | null,
  sent: readonly VerifierBytes[],
  opts: { tolerance?: number } = {},
): ObservabilityCheckResult[] {
  const tol = opts.tolerance ?? 0;
  if (panel === null) {
    return sent.map((s) => ({
      name: "bytes",
      service: s.service,
      passed: false,
      detail: "no byte counts: the report's Prometheus panel could not be built",
    }));
  }
  const wireSent = sent.reduce((sum, s) => sum + s.wire.sent, 0);
  const wireReceived = sent.reduce((sum, s) => sum + s.wire.received, 0);
  const listener = panel.envoy.bytes?.listener;
  const listenerProblems: string[] = [];
  const all = sent.length > 1 ? ` (${sent.length} services together)` : "";
  compare(listenerProblems, `Envoy's listener, bytes in${all}`, listener?.in, wireSent, "sent", tol);
  compare(listenerProblems, `Envoy's listener, bytes out${all}`, listener?.out, wireReceived, "received", tol);

  return sent.map((s) => {
    const problems = [...listenerProblems];
    const row = panel.services.find((r) => r.service === s.service);
    const cluster = s.cluster ?? s.service;
    const metrics: Record<string, number> = { verifier_wire_sent_bytes: wireSent, verifier_wire_received_bytes: wireReceived };
    if (isNum(listener?.in)) metrics.envoy_listener_in_bytes = listener.in;
    if (isNum(listener?.out)) metrics.envoy_listener_out_bytes = listener.out;
    if (isNum(listener?.inPerSecond)) metrics.envoy_listener_in_bytes_per_s = listener.inPerSecond;
    if (isNum(listener?.outPerSecond)) metrics.envoy_listener_out_bytes_per_s = listener.outPerSecond;

    // The replicas' own counters, per replica and in total.
    const bodyReceived = Object.values(s.bodyReceivedPerReplica).reduce((a, b) => a + b, 0);
    metrics.verifier_body_received_bytes = bodyReceived;
    compare(problems, `${s.service}'s replicas, request body bytes in`, row?.bytes?.in, s.bodySent, "sent", tol);
    const hosts = [
      ...new Set([
        ...Object.keys(s.bodyReceivedPerReplica),
        ...(row?.replicas ?? []).filter((r) => isNum(r.bytes?.out) && (r.bytes?.out ?? 0) > 0).map((r) => r.replica),
      ]),
    ].sort();
    for (const host of hosts) {
      const prom = row?.replicas.find((r) => r.replica === host)?.bytes?.out;
      if (isNum(prom)) metrics[`replica:${host}:out_bytes`] = prom;
      compare(problems, `replica ${host}, response body bytes out`, prom, s.bodyReceivedPerReplica[host] ?? 0, "received", tol);
    }
    if (isNum(row?.bytes?.out)) metrics.replicas_out_bytes = row.bytes.out;
    if (isNum(row?.bytes?.outPerSecond)) metrics.replicas_out_bytes_per_s = row.bytes.outPerSecond;

    // Envoy's cluster carried at least the bodies (plus headers, plus perhaps health checks).
    const c = panel.envoy.bytes?.clusters.find((x) => x.cluster === cluster);
    if (!isNum(c?.in)) problems.push(`Envoy cluster ${cluster}: Prometheus has no upstream byte counts`);
    else {
      metrics.envoy_cluster_in_bytes = c.in;
      if (isNum(c.out)) metrics.envoy_cluster_out_bytes = c.out;
      if (c.in + tol < bodyReceived)
        problems.push(
          `Envoy cluster ${cluster}: received ${bytes(c.in)} from the replicas, less than the ${bytes(bodyReceived)} of bodies the verifier got from them`,
        );
    }

    const passed = problems.length === 0;
    const perReplica = hosts.map((h) => `${h}=${s.bodyReceivedPerReplica[h] ?? 0}`).join(" ");
    const detail = passed
      ? `Prometheus agrees with the verifier's bytes: Envoy's listener took in ${bytes(wireSent)} and sent out ${bytes(wireReceived)}${all}, as the verifier's sockets sent and received; ${s.service}'s replicas sent ${bytes(bodyReceived)} of bodies (${perReplica}) and received ${bytes(s.bodySent)}, as the verifier counted; Envoy got ${bytes(c?.in ?? 0)} from cluster ${cluster} (bodies plus headers)`
      : `Prometheus' bytes disagree with the verifier for ${s.service}: ${problems.join("; ")}`;
    return { name: "bytes", service: s.service, passed, detail, metrics };
  });
}
