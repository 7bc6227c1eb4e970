// The metrics check's comparison: what Prometheus counted between two snapshots against what the
// harness sent, per Envoy cluster and per replica, naming the culprit when they differ.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { compareMetrics, snapshotFrom, type MetricsSnapshot, type SentTraffic } from "../../harness/observability/metrics-check.ts";
import type { Sample, ScrapeTarget } from "../../harness/observability/prometheus.ts";
import { compareTargets } from "../../harness/observability/targets.ts";

const target = (service: string, ip: string, port = 8080, health: ScrapeTarget["health"] = "up", lastError = ""): ScrapeTarget => ({
  job: "services",
  instance: `${ip}:${port}`,
  host: ip,
  port,
  scrapeUrl: `http://${ip}:${port}/metrics`,
  health,
  lastError,
  lastScrape: new Date(),
  labels: { job: "services", instance: `${ip}:${port}`, compose_service: service },
});
const envoyTarget: ScrapeTarget = {
  ...target("front-envoy", "10.0.0.9", 9901),
  job: "envoy",
  labels: { job: "envoy", instance: "10.0.0.9:9901" },
};

const replicaSample = (service: string, replica: string, ip: string, value: number): Sample => ({
  labels: { compose_service: service, replica, instance: `${ip}:8080` },
  value,
  timestamp: 0,
});
const clusterSample = (cluster: string, value: number): Sample => ({ labels: { envoy_cluster_name: cluster }, value, timestamp: 0 });

function snap(replicas: Sample[], clusters: Sample[], retries: Sample[] = [], targets: ScrapeTarget[] = []): MetricsSnapshot {
  return snapshotFrom(1000, 1000, replicas, clusters, retries, [envoyTarget, ...targets]);
}

const twoReplicaTargets = [target("service1", "10.0.0.2"), target("service1", "10.0.0.3")];
const before = snap(
  [replicaSample("service1", "aaa", "10.0.0.2", 5), replicaSample("service1", "bbb", "10.0.0.3", 7)],
  [clusterSample("service1", 12)],
  [],
  twoReplicaTargets,
);
const sent: SentTraffic = {
  service: "service1",
  total: 20,
  perReplica: { aaa: 10, bbb: 10 },
  replicas: [
    { hostname: "aaa", ip: "10.0.0.2" },
    { hostname: "bbb", ip: "10.0.0.3" },
  ],
};

describe("the metrics check's comparison", () => {
  it("passes when the increases equal what was sent, per cluster and per replica", () => {
    const after = snap(
      [replicaSample("service1", "aaa", "10.0.0.2", 15), replicaSample("service1", "bbb", "10.0.0.3", 17)],
      [clusterSample("service1", 32)],
      [],
      twoReplicaTargets,
    );
    const [v] = compareMetrics(before, after, [sent]);
    assert.ok(v?.passed, v?.problems.join("; "));
    assert.equal(v?.metrics.envoy_cluster_requests, 20);
    assert.equal(v?.metrics["replica:aaa:prometheus"], 10);
    assert.equal(v?.metrics.prometheus_replica_total, 20);
    assert.match(v?.summary ?? "", /Envoy cluster service1 \+20; replicas aaa=10 bbb=10/);
  });

  it("does not count Envoy's retries as requests the harness sent", () => {
    const after = snap(
      [replicaSample("service1", "aaa", "10.0.0.2", 15), replicaSample("service1", "bbb", "10.0.0.3", 17)],
      [clusterSample("service1", 34)],
      [clusterSample("service1", 2)],
      twoReplicaTargets,
    );
    const [v] = compareMetrics(before, after, [sent]);
    assert.ok(v?.passed, v?.problems.join("; "));
    assert.equal(v?.metrics.envoy_cluster_retries, 2);
  });

  it("fails naming the replica when the harness claims more than Prometheus counted", () => {
    const after = snap(
      [replicaSample("service1", "aaa", "10.0.0.2", 15), replicaSample("service1", "bbb", "10.0.0.3", 17)],
      [clusterSample("service1", 32)],
      [],
      twoReplicaTargets,
    );
    const [v] = compareMetrics(before, after, [{ ...sent, total: 23, perReplica: { aaa: 13, bbb: 10 } }]);
    assert.equal(v?.passed, false);
    assert.deepEqual(v?.culprits, ["envoy cluster service1", "aaa"]);
    assert.match(v?.problems.join("\n") ?? "", /Envoy cluster service1: Prometheus counts 20 upstream requests, the harness sent 23/);
    assert.match(
      v?.problems.join("\n") ?? "",
      /replica aaa \(10\.0\.0\.2:8080\): Prometheus counts 10, fewer than the harness got from it \(13\)/,
    );
    // A tolerance of 3 accepts it.
    assert.ok(compareMetrics(before, after, [{ ...sent, total: 23, perReplica: { aaa: 13, bbb: 10 } }], { tolerance: 3 })[0]?.passed);
  });

  it("fails naming an unscraped replica with its target's error", () => {
    const down = [
      target("service1", "10.0.0.2"),
      target("service1", "10.0.0.3", 8081, "down", "dial tcp 10.0.0.3:8081: connect: connection refused"),
    ];
    const b = snap([replicaSample("service1", "aaa", "10.0.0.2", 5)], [clusterSample("service1", 12)], [], down);
    const a = snap([replicaSample("service1", "aaa", "10.0.0.2", 15)], [clusterSample("service1", 32)], [], down);
    const [v] = compareMetrics(b, a, [sent]);
    assert.equal(v?.passed, false);
    assert.deepEqual(v?.culprits, ["bbb"]);
    assert.equal(v?.problems.length, 1, v?.problems.join("\n"));
    assert.match(
      v?.problems[0] ?? "",
      /replica bbb: the harness got 10 answers from it, Prometheus has no series for it — target 10\.0\.0\.3:8081 is down: dial tcp 10\.0\.0\.3:8081: connect: connection refused/,
    );
  });

  it("without replica addresses, still names the down targets of the service", () => {
    const down = [target("service1", "10.0.0.3", 8081, "down", "connection refused")];
    const a = snap([], [clusterSample("service1", 32)], [], down);
    const [v] = compareMetrics(before, a, [{ service: "service1", total: 20, perReplica: { aaa: 10, bbb: 10 } }]);
    assert.equal(v?.passed, false);
    assert.match(v?.problems.join("\n") ?? "", /replica aaa: .*target 10\.0\.0\.3:8081 is down: connection refused/);
  });

  it("fails for a replica Prometheus has not discovered, a counter that went back, and a missing cluster", () => {
    const oneTarget = [target("service1", "10.0.0.2")];
    const a = snap([replicaSample("service1", "aaa", "10.0.0.2", 3)], [], [], oneTarget);
    const [v] = compareMetrics(before, a, [sent]);
    const text = v?.problems.join("\n") ?? "";
    assert.match(text, /Envoy cluster service1: no envoy_cluster_upstream_rq_total series in Prometheus \(target 10\.0\.0\.9:9901 up\)/);
    assert.match(text, /replica aaa: its counter went down \(5 → 3\)/);
    assert.match(text, /replica bbb: .*10\.0\.0\.3 is not a Prometheus scrape target \(DNS discovery has not found it\)/);
  });

  it("counts a replica's first requests when it appeared after the before-snapshot (scaled up)", () => {
    const three = [...twoReplicaTargets, target("service1", "10.0.0.4")];
    const after = snap(
      [
        replicaSample("service1", "aaa", "10.0.0.2", 12),
        replicaSample("service1", "bbb", "10.0.0.3", 14),
        replicaSample("service1", "ccc", "10.0.0.4", 6),
      ],
      [clusterSample("service1", 32)],
      [],
      three,
    );
    const [v] = compareMetrics(before, after, [
      {
        service: "service1",
        total: 20,
        perReplica: { aaa: 7, bbb: 7, ccc: 6 },
        replicas: [...(sent.replicas ?? []), { hostname: "ccc", ip: "10.0.0.4" }],
      },
    ]);
    assert.ok(v?.passed, v?.problems.join("; "));
  });

  it("names replicas Prometheus counted that the harness never heard from", () => {
    const after = snap(
      [
        replicaSample("service1", "aaa", "10.0.0.2", 15),
        replicaSample("service1", "bbb", "10.0.0.3", 17),
        replicaSample("service1", "zzz", "10.0.0.8", 4),
      ],
      [clusterSample("service1", 32)],
      [],
      twoReplicaTargets,
    );
    const [v] = compareMetrics(before, after, [sent]);
    assert.deepEqual(v?.culprits, ["zzz"]);
    assert.match(v?.problems[0] ?? "", /replica zzz \(10\.0\.0\.8:8080\): Prometheus counts 4, more than the harness got from it \(0\)/);
  });
});

describe("scrape targets against running replicas", () => {
  it("agrees when every replica is an up target and nothing else is", () => {
    assert.deepEqual(compareTargets("service1", ["10.0.0.2", "10.0.0.3"], twoReplicaTargets), []);
  });
  it("names missing, down and stale targets", () => {
    const targets = [target("service1", "10.0.0.2", 8080, "down", "timeout"), target("service1", "10.0.0.7")];
    assert.deepEqual(compareTargets("service1", ["10.0.0.2", "10.0.0.3"], targets), [
      "service1: target 10.0.0.2:8080 is down: timeout",
      "service1: replica 10.0.0.3 is not a scrape target yet",
      "service1: target 10.0.0.7:8080 is no running replica",
    ]);
  });
});
