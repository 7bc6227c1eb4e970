// The rpc check with made-up measurements (it must say no, and name the pinned replica), and the
// gRPC load runner against the service's real gRPC server in-process.
import { strict as assert } from "node:assert";
import { describe, it } from "vitest";
import { rpcCheck } from "../../harness/verify/checks/index.ts";
import type { ClusterDelta } from "../../harness/verify/envoy-view.ts";
import { runGrpcLoad } from "../../harness/verify/grpc-load.ts";
import { Tally } from "../../harness/verify/load.ts";
import type { ReplicaInfo } from "../../harness/verify/schema.ts";
import { loadConfig } from "../../services/src/config.ts";
import { startGrpcService } from "../../services/src/grpc.ts";
import { silentLogger } from "../../services/src/logging.ts";
import { Tracing } from "../../services/src/tracing.ts";

const replicas: ReplicaInfo[] = [
  { name: "stack-service1-1", hostname: "aaa111", ip: "172.20.0.5" },
  { name: "stack-service1-2", hostname: "bbb222", ip: "172.20.0.6" },
  { name: "stack-service1-3", hostname: "ccc333", ip: "172.20.0.7" },
];

function tallyOf(counts: number[]): Tally {
  const t = new Tally("1");
  counts.forEach((c, i) => {
    const r = replicas[i]!;
    for (let k = 0; k < c; k++)
      t.answer(200, JSON.stringify({ hostname: r.hostname, ip: r.ip, serviceid: "1", success: true, time: "t" }), 1);
  });
  return t;
}

function envoyOf(counts: number[]): ClusterDelta {
  return {
    hosts: replicas.map((r, i) => ({
      key: `${r.ip}:50051`,
      ip: r.ip,
      port: 50051,
      weight: 1,
      endpoints: 1,
      healthy: true,
      healthFlags: [],
      delta: { rq_total: counts[i] ?? 0 },
      replica: r,
    })),
    upstreamRqTotal: counts.reduce((s, c) => s + c, 0),
    retries: 0,
    retryOverflows: 0,
    membershipChanges: 0,
    healthCheckFailures: 0,
    workersWithNewConnections: 1,
  };
}

const base = {
  service: "service1",
  serviceId: "1",
  replicas,
  policy: "ROUND_ROBIN",
  expect: "envoy" as const,
  envoyWorkers: 2,
  alpha: 1e-6,
  power: 0.99,
  streams: 16,
};

describe("rpc check", () => {
  it("passes when one channel's calls spread over every replica and Envoy agrees", () => {
    const c = rpcCheck({ ...base, tally: tallyOf([100, 100, 100]), envoy: envoyOf([100, 100, 100]) });
    assert.equal(c.passed, true, c.reason);
    assert.match(c.reason, /300 calls over 1 channel \(16 streams\) reached 3 of 3 replicas/);
  });

  it("fails and names the replica a channel was pinned to (connection-level balancing)", () => {
    const c = rpcCheck({ ...base, tally: tallyOf([300, 0, 0]), envoy: envoyOf([300, 0, 0]) });
    assert.equal(c.passed, false);
    assert.match(c.reason, /went to container stack-service1-1 \(hostname aaa111/);
    assert.deepEqual(c.culprits[0], "aaa111");
  });

  it("judges reachability by grpc-status", () => {
    const t = tallyOf([100, 100, 100]);
    for (let k = 0; k < 5; k++) t.transportError({ code: "grpc-status UNAVAILABLE", message: "no healthy upstream" }, 1);
    const c = rpcCheck({ ...base, tally: t, envoy: envoyOf([100, 100, 100]) });
    assert.equal(c.passed, false);
    assert.match(c.reason, /reachability: .*grpc-status UNAVAILABLE/);
  });

  it("fails agreement when Envoy's gRPC cluster counted other calls than the channel saw", () => {
    const c = rpcCheck({ ...base, tally: tallyOf([100, 100, 100]), envoy: envoyOf([100, 100, 40]) });
    assert.equal(c.passed, false);
    assert.match(c.reason, /agreement: /);
  });
});

describe("gRPC load runner", () => {
  it("tallies one channel's calls per replica, and a bad grpc-status as a failure", async (t) => {
    const svc = await startGrpcService({
      config: loadConfig({ SERVICE_ID: "1", GRPC_PORT: "0" }),
      identity: { hostname: "aaa111", ip: "172.20.0.5" },
      logger: silentLogger,
      tracing: new Tracing({ endpoint: undefined, serviceName: "service1", logger: silentLogger }),
      host: "127.0.0.1",
    });
    t.onTestFinished(() => svc.close(100));
    const ok = await runGrpcLoad({
      target: `127.0.0.1:${svc.port}`,
      authority: "service1",
      calls: 200,
      concurrency: 16,
      expectedServiceId: "1",
    });
    assert.equal(ok.tally.ok, 200);
    assert.deepEqual(Object.fromEntries(ok.tally.counts()), { aaa111: 200 });
    assert.deepEqual(ok.statuses, { OK: 200 });
    const down = await runGrpcLoad({ target: "127.0.0.1:1", authority: "service1", calls: 50, concurrency: 4, timeoutMs: 2000 });
    assert.equal(down.tally.ok, 0);
    assert.ok((down.statuses.UNAVAILABLE ?? 0) > 0, JSON.stringify(down.statuses));
    assert.ok(down.tally.abandoned > 0, "gives up after calls in a row got no answer");
  });
});
