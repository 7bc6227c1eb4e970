// Small, valid VerifyReports for the report tests: two services of two replicas each, one of
// which can be made to fail (a replica answering success=false), and a hostname with characters
// that must be escaped in XML and HTML.
import type { ServiceReport, VerifyReport } from "../../harness/verify/schema.ts";

export function sampleService(name: string, passed: boolean): ServiceReport {
  const lat = { p50: 1.2, p90: 2.5, p99: 7.5, max: 12, mean: 1.6 };
  return {
    service: name,
    path: "/service/1",
    cluster: name,
    serviceId: "1",
    lbPolicy: "ROUND_ROBIN",
    lbPolicySource: "lb_policy",
    requests: {
      planned: 6,
      plannedBy: "given",
      sent: 6,
      ok: passed ? 6 : 5,
      concurrency: 2,
      connections: 2,
      connectionsOpened: 2,
      durationSeconds: 0.1,
      requestsPerSecond: 60,
    },
    latencyMs: lat,
    histogram: { edgesMs: [0.5, 1, 2], counts: [1, 3, 2] },
    replicas: [
      {
        hostname: "aaa111",
        container: "s-1",
        dockerIp: "172.20.0.5",
        reportedIps: ["172.20.0.5"],
        expected: true,
        count: 3,
        share: 0.5,
        expectedShare: 0.5,
        errors: 0,
        latencyMs: lat,
        envoyRqTotal: 3,
      },
      {
        hostname: "bbb<222>",
        container: "s-2",
        dockerIp: "172.20.0.6",
        reportedIps: ["172.20.0.6"],
        expected: true,
        count: 3,
        share: 0.5,
        expectedShare: 0.5,
        errors: passed ? 0 : 1,
        latencyMs: lat,
        envoyRqTotal: 3,
      },
    ],
    failures: [],
    balance: {
      method: "round-robin-bound",
      hostnames: ["aaa111", "bbb<222>"],
      counts: [3, 3],
      expectedShares: [0.5, 0.5],
      weighted: false,
      maxMinRatio: 1,
      statistic: null,
      df: null,
      pValue: null,
      alpha: null,
      bounds: [2, 2],
      deviations: [0, 0],
      power: 0,
      powerNote: "n too small",
      workers: 2,
      retries: 0,
      unattributed: 0,
      foreign: 0,
      hostSetChanges: 0,
      notes: [],
    },
    perRequest: { requests: 4, connectionsOpened: 1, seen: { aaa111: 2, "bbb<222>": 2 } },
    convergence: null,
    checks: [
      {
        name: "reachability",
        passed,
        reason: passed ? "6/6 answered" : `1/6 requests failed: replica "bbb<222>" answered 1 × success=false & more`,
        culprits: passed ? [] : ["bbb<222>"],
        details: [],
      },
      { name: "membership", passed: true, reason: "all 2 running replicas answered", culprits: [], details: [] },
    ],
    passed,
  };
}

/** A service with Envoy's two layers measured: 6 L4 connections beside one L7 connection's 4 requests. */
export function withLayers(s: ServiceReport): ServiceReport {
  return {
    ...s,
    layers: {
      l4: {
        url: "http://127.0.0.1:32771",
        connections: 6,
        requests: 24,
        mixedConnections: 0,
        connectionsPerReplica: { aaa111: 4, "bbb<222>": 2 },
      },
      l7: { requests: 4, connections: 1, requestsPerReplica: { aaa111: 2, "bbb<222>": 2 } },
    },
  };
}

export function sampleReport(services: ServiceReport[], extra: Partial<VerifyReport> = {}): VerifyReport {
  return {
    schemaVersion: 1,
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:00:01.000Z",
    durationSeconds: 1,
    listenerUrl: "http://127.0.0.1:8080",
    adminUrl: "http://127.0.0.1:9901",
    envoy: { version: "abc/1.40.0/Clean/RELEASE/BoringSSL", state: "LIVE", concurrency: 2 },
    settings: { alpha: 1e-6, power: 0.99, concurrency: 2, connections: 2, requests: 6 },
    services,
    passed: services.every((s) => s.passed),
    ...extra,
  };
}
