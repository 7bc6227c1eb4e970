// The named checks with made-up measurements: each must be able to say no, and name the culprit.
import { strict as assert } from "node:assert";
import { describe, it } from "vitest";
import {
  agreementCheck,
  balanceCheck,
  expectedShares,
  membershipCheck,
  perRequestCheck,
  perRequestSampleSize,
  reachabilityCheck,
  sequentialBalanceNeeded,
} from "../../harness/verify/checks/index.ts";
import type { ClusterDelta, HostDelta } from "../../harness/verify/envoy-view.ts";
import { diffSnapshots, replicaForHost, type ClusterSnapshot } from "../../harness/verify/envoy-view.ts";
import { Tally } from "../../harness/verify/load.ts";
import type { ReplicaInfo } from "../../harness/verify/schema.ts";

const replicas: ReplicaInfo[] = [
  { name: "stack-service1-1", hostname: "aaa111", ip: "172.20.0.5" },
  { name: "stack-service1-2", hostname: "bbb222", ip: "172.20.0.6" },
  { name: "stack-service1-3", hostname: "ccc333", ip: "172.20.0.7" },
];

function answer(hostname: string, ip: string, extra: Partial<{ serviceid: string; success: boolean }> = {}): string {
  return JSON.stringify({ hostname, ip, serviceid: extra.serviceid ?? "1", success: extra.success ?? true, time: "2021-10-22 18:05:12" });
}

/** A tally with `counts[i]` good answers from replica i. */
function tallyOf(counts: number[], reps: readonly ReplicaInfo[] = replicas): Tally {
  const t = new Tally("1");
  counts.forEach((c, i) => {
    const r = reps[i]!;
    for (let k = 0; k < c; k++) t.answer(200, answer(r.hostname, r.ip), 1 + (k % 10));
  });
  return t;
}

function host(r: ReplicaInfo | undefined, key: string, delta: Record<string, number>, weight = 1, healthy = true): HostDelta {
  const [ip, port] = key.split(":");
  return {
    key,
    ip: ip!,
    port: Number(port),
    weight,
    endpoints: 1,
    healthy,
    healthFlags: healthy ? [] : ["failed_active_health_check"],
    delta,
    replica: r,
  };
}

function envoyOf(counts: number[], extra: Partial<ClusterDelta> = {}, weights?: number[]): ClusterDelta {
  return {
    hosts: replicas.map((r, i) => host(r, `${r.ip}:8080`, { rq_total: counts[i] ?? 0 }, weights?.[i] ?? 1)),
    upstreamRqTotal: counts.reduce((s, c) => s + c, 0),
    retries: 0,
    retryOverflows: 0,
    membershipChanges: 0,
    healthCheckFailures: 0,
    workersWithNewConnections: 2,
    ...extra,
  };
}

describe("Tally (parsing every answer)", () => {
  it("attributes answers and classifies errors", () => {
    const t = new Tally("1");
    t.answer(200, answer("aaa111", "172.20.0.5"), 1);
    t.answer(200, answer("aaa111", "172.20.0.5", { success: false }), 1);
    t.answer(200, answer("aaa111", "172.20.0.5", { serviceid: "2" }), 1);
    t.answer(503, answer("bbb222", "172.20.0.6"), 1);
    t.answer(503, "upstream connect error or disconnect/reset before headers", 1);
    t.answer(200, "<html>oops</html>", 1);
    t.answer(200, JSON.stringify({ hostname: "ccc333", ip: "not-an-ip", serviceid: "1", success: true, time: "x" }), 1);
    t.answer(200, JSON.stringify({ ip: "172.20.0.5" }), 1);
    t.transportError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }), 1);
    assert.equal(t.sent, 9);
    assert.equal(t.ok, 1);
    const a = t.replicas.get("aaa111")!;
    assert.equal(a.count, 3);
    assert.equal(a.errors, 2);
    assert.deepEqual([...a.errorKinds.keys()].sort(), ["serviceid=2 (expected 1)", "success=false"]);
    assert.equal(t.replicas.get("bbb222")!.errorKinds.get("HTTP 503"), 1);
    const c = t.replicas.get("ccc333")!;
    assert.match([...c.errorKinds.keys()][0]!, /invalid answer \(ip: /);
    const failures = [...t.failures.values()];
    assert.equal(t.unattributed, 4);
    assert.ok(failures.some((f) => f.kind === "http" && f.status === 503));
    assert.ok(failures.some((f) => f.kind === "body" && f.detail.startsWith("not JSON")));
    assert.ok(
      failures.some((f) => f.kind === "body" && /hostname: /.test(f.detail)),
      JSON.stringify(failures),
    );
    assert.ok(failures.some((f) => f.kind === "transport" && f.detail.startsWith("ECONNREFUSED")));
  });

  it("counts Envoy's JSON local replies by their error, whatever their request ids", () => {
    const t = new Tally("1");
    const envoy = (id: string) => JSON.stringify({ error: "no healthy upstream", request_id: id, status: 503, success: false });
    t.answer(503, envoy("a"), 1);
    t.answer(503, envoy("b"), 1);
    t.answer(504, JSON.stringify({ error: "upstream request timeout", request_id: "c", status: 504, success: false }), 1);
    assert.deepEqual(
      [...t.failures.values()].map((f) => [f.kind, f.status, f.detail, f.count]),
      [
        ["http", 503, "no healthy upstream", 2],
        ["http", 504, "upstream request timeout", 1],
      ],
    );
  });
});

describe("reachability", () => {
  it("passes when every answer is good", () => {
    const c = reachabilityCheck(tallyOf([5, 5, 5]), "1", replicas);
    assert.equal(c.passed, true);
    assert.match(c.reason, /15\/15 answered 200/);
  });

  it("names the replica that answers badly and Envoy's counters for the one it cannot reach", () => {
    const t = tallyOf([5, 5, 0]);
    t.answer(200, answer("bbb222", "172.20.0.6", { success: false }), 1);
    for (let i = 0; i < 4; i++)
      t.answer(503, "upstream connect error or disconnect/reset before headers. reset reason: connection failure", 1);
    const envoy = envoyOf([5, 6, 0]);
    envoy.hosts[2]!.delta.cx_connect_fail = 4;
    const c = reachabilityCheck(t, "1", replicas, envoy);
    assert.equal(c.passed, false);
    assert.ok(c.culprits.includes("stack-service1-2"), "named by container");
    assert.ok(c.culprits.includes("stack-service1-3"));
    assert.match(c.reason, /container stack-service1-2 \(hostname bbb222, 172\.20\.0\.6\) answered 1 × success=false/);
    assert.match(c.reason, /4 × HTTP 503 from Envoy/);
    assert.ok(c.details.some((d) => /ccc333.*cx_connect_fail \+4/.test(d)));
  });
});

describe("membership", () => {
  it("passes for exactly the running set", () => {
    assert.equal(membershipCheck(tallyOf([1, 1, 1]), replicas, "service1").passed, true);
  });

  it("names a replica never seen, a stranger, and an ip that disagrees with Docker", () => {
    const t = tallyOf([3, 3, 0]);
    t.answer(200, answer("imposter", "172.20.0.99"), 1);
    t.answer(200, answer("aaa111", "10.0.0.1"), 1);
    const envoy = envoyOf([4, 3, 0]);
    envoy.hosts.pop();
    const c = membershipCheck(t, replicas, "service1", envoy);
    assert.equal(c.passed, false);
    assert.deepEqual(new Set(c.culprits), new Set(["imposter", "stack-service1-3", "stack-service1-1"]));
    assert.match(c.reason, /'imposter' answered 1 request but is not a desired replica of service1/);
    assert.match(c.reason, /container stack-service1-3 \(hostname ccc333, 172\.20\.0\.7\) never answered \(not among Envoy's hosts\)/);
    assert.match(c.reason, /aaa111.* reported ip 10\.0\.0\.1 but Docker gives 172\.20\.0\.5/);
  });

  const namer = {
    describeIp: (ip: string) =>
      ip.startsWith("172.20.0.99")
        ? `container rogue-1 (hostname imposter, ${ip})`
        : `${ip} (no container on the project's networks has this address)`,
    describeHostname: (h: string) => (h === "imposter" ? "container rogue-1 (hostname imposter, 172.20.0.99)" : `'${h}' (no container)`),
    containerOf: (h: string) => (h === "imposter" ? "rogue-1" : undefined),
  };

  it("names a stranger by its container, hostname and address, never by a bare hostname or IP", () => {
    const t = tallyOf([3, 3, 3]);
    t.answer(200, answer("imposter", "172.20.0.99"), 1);
    const c = membershipCheck(t, replicas, "service1", undefined, { namer });
    assert.equal(c.passed, false);
    assert.deepEqual(c.culprits, ["rogue-1"]);
    assert.match(
      c.reason,
      /^container rogue-1 \(hostname imposter, 172\.20\.0\.99\) answered 1 request but is not a desired replica of service1$/,
    );
  });

  it("fails on a desired replica that does not serve, naming why and its last log line", () => {
    const desired = {
      desired: 4,
      notServing: [
        { container: "stack-service1-4", hostname: "ddd444", why: "exited with code 137, OOM-killed", logTail: ["starting", "allocating"] },
      ],
      extras: [],
      absent: 0,
    };
    const c = membershipCheck(tallyOf([3, 3, 3]), replicas, "service1", undefined, { desired });
    assert.equal(c.passed, false);
    assert.deepEqual(c.culprits, ["stack-service1-4"]);
    assert.match(
      c.reason,
      /desired replica stack-service1-4 \(hostname ddd444\) is not serving: exited with code 137, OOM-killed; last log line: allocating/,
    );
    assert.ok(c.details.includes("  allocating"));
  });

  it("fails when desired replicas have no container at all", () => {
    const c = membershipCheck(tallyOf([3, 3, 3]), replicas, "service1", undefined, {
      desired: { desired: 5, notServing: [], extras: [], absent: 2 },
    });
    assert.equal(c.passed, false);
    assert.match(c.reason, /2 desired replicas of service1 have no container at all \(3 of 5 exist: removed\? verify expects service1=5\)/);
  });

  it("fails on an extra container even when it carries the service's labels, and says what it answered", () => {
    const t = tallyOf([3, 3, 3]);
    t.answer(200, answer("eee555", "172.20.0.9"), 1);
    const extras = [
      { container: "stack-service1-5", hostname: "eee555", ip: "172.20.0.9", why: "numbered 5, beyond the 3 desired replicas of service1" },
    ];
    const c = membershipCheck(t, replicas, "service1", undefined, { desired: { desired: 3, notServing: [], extras, absent: 0 } });
    assert.equal(c.passed, false);
    assert.deepEqual(c.culprits, ["stack-service1-5"]);
    assert.equal(
      c.reason,
      "extra container stack-service1-5 (hostname eee555, 172.20.0.9) is numbered 5, beyond the 3 desired replicas of service1, and answered 1 request",
    );
  });

  it("passes when the running replicas are exactly the desired ones", () => {
    const c = membershipCheck(tallyOf([3, 3, 3]), replicas, "service1", undefined, {
      desired: { desired: 3, notServing: [], extras: [], absent: 0 },
    });
    assert.equal(c.passed, true, c.reason);
    assert.match(c.reason, /all 3 running replicas of 3 desired answered/);
  });
});

describe("balance", () => {
  const base = { replicas, expect: "envoy" as const, envoyWorkers: 2, connectionsOpened: 8, alpha: 1e-6, power: 0.99 };

  it("ROUND_ROBIN: passes within W of the fair share, fails beyond it naming the replica", () => {
    const ok = balanceCheck({ ...base, tally: tallyOf([235, 234, 235]), policy: "ROUND_ROBIN", envoy: envoyOf([235, 234, 235]) });
    assert.equal(ok.check.passed, true, ok.check.reason);
    assert.equal(ok.report.method, "round-robin-bound");
    assert.equal(ok.report.workers, 2);
    assert.equal(ok.report.power, 1);
    const bad = balanceCheck({ ...base, tally: tallyOf([238, 234, 232]), policy: "ROUND_ROBIN", envoy: envoyOf([238, 234, 232]) });
    assert.equal(bad.check.passed, false);
    assert.deepEqual(bad.check.culprits, ["aaa111"]);
    assert.match(bad.check.reason, /beyond the bound 2\.00/);
  });

  it("ROUND_ROBIN: W is the fewest of Envoy workers, connections and workers that took connections", () => {
    const r = balanceCheck({
      ...base,
      envoyWorkers: 16,
      connectionsOpened: 3,
      tally: tallyOf([100, 100, 100]),
      policy: "ROUND_ROBIN",
      envoy: envoyOf([100, 100, 100], { workersWithNewConnections: 0 }),
    });
    assert.equal(r.report.workers, 3);
  });

  it("ROUND_ROBIN: retries widen the bound", () => {
    const r = balanceCheck({
      ...base,
      tally: tallyOf([245, 247, 212]),
      policy: "ROUND_ROBIN",
      envoy: envoyOf([250, 250, 239], { retries: 35 }),
    });
    assert.equal(r.check.passed, true, r.check.reason);
    assert.equal(r.report.bounds![0], 37);
  });

  it("ROUND_ROBIN: refuses to judge when noise makes the bound toothless", () => {
    const t = tallyOf([30, 30, 0]);
    for (let i = 0; i < 30; i++) t.answer(503, "no healthy upstream", 1);
    const r = balanceCheck({ ...base, tally: t, policy: "ROUND_ROBIN", envoy: envoyOf([30, 30, 0]) });
    assert.equal(r.check.passed, false);
    assert.match(r.check.reason, /cannot judge balance/);
    assert.equal(r.report.power, 0);
  });

  it("RANDOM: chi-square passes a fair split and fails a skewed one, naming the replica", () => {
    const ok = balanceCheck({ ...base, tally: tallyOf([241, 229, 234]), policy: "RANDOM", envoy: envoyOf([241, 229, 234]) });
    assert.equal(ok.check.passed, true, ok.check.reason);
    assert.equal(ok.report.method, "chi-square");
    assert.ok(ok.report.pValue! > 0.5);
    assert.ok(ok.report.power >= 0.99);
    const bad = balanceCheck({ ...base, tally: tallyOf([300, 290, 114]), policy: "RANDOM", envoy: envoyOf([300, 290, 114]) });
    assert.equal(bad.check.passed, false);
    assert.deepEqual(bad.check.culprits, ["ccc333"]);
    assert.ok(bad.report.pValue! < 1e-6);
  });

  it("chi-square refuses to judge with too little power", () => {
    const r = balanceCheck({ ...base, tally: tallyOf([20, 20, 20]), policy: "RANDOM", envoy: envoyOf([20, 20, 20]) });
    assert.equal(r.check.passed, false);
    assert.match(r.check.reason, /cannot judge balance .* power/);
  });

  it("weights: tests against Envoy's weights, or uniform when asked (then a weighted split fails)", () => {
    const envoy = envoyOf([230, 230, 460], {}, [1, 1, 2]);
    const byWeights = balanceCheck({ ...base, tally: tallyOf([230, 230, 460]), policy: "ROUND_ROBIN", envoy });
    assert.equal(byWeights.check.passed, true, byWeights.check.reason);
    assert.deepEqual(byWeights.report.expectedShares, [0.25, 0.25, 0.5]);
    assert.equal(byWeights.report.weighted, true);
    const uniform = balanceCheck({ ...base, expect: "uniform", tally: tallyOf([230, 230, 460]), policy: "ROUND_ROBIN", envoy });
    assert.equal(uniform.check.passed, false);
    assert.deepEqual(uniform.check.culprits, ["ccc333"]);
  });

  it("RANDOM ignores weights in Envoy, so the expectation stays uniform", () => {
    const e = expectedShares(replicas, "RANDOM", "envoy", envoyOf([0, 0, 0], {}, [1, 1, 2]).hosts);
    assert.deepEqual(e.probs, [1 / 3, 1 / 3, 1 / 3]);
    assert.match(e.notes[0]!, /ignored by the RANDOM policy/);
  });

  it("an address Envoy lists twice counts twice, for RANDOM too, with a wider round-robin slack", () => {
    const envoy = envoyOf([141, 281, 282]);
    envoy.hosts[1]!.endpoints = 2;
    envoy.hosts[1]!.weight = 2;
    envoy.hosts[2]!.endpoints = 2;
    envoy.hosts[2]!.weight = 2;
    const e = expectedShares(replicas, "RANDOM", "envoy", envoy.hosts);
    assert.deepEqual(e.probs, [0.2, 0.4, 0.4]);
    const rr = balanceCheck({ ...base, tally: tallyOf([141, 281, 282]), policy: "ROUND_ROBIN", envoy });
    assert.equal(rr.check.passed, true, rr.check.reason);
    // k = 2 of H = 5 equal-weight hosts: min(k, H − k) = 2 per worker.
    assert.deepEqual(rr.report.bounds, [2, 4, 4]);
  });

  it("LEAST_REQUEST is measured sequentially; weighted, it is bounded like EDF round robin", () => {
    assert.equal(sequentialBalanceNeeded("LEAST_REQUEST"), true);
    assert.equal(sequentialBalanceNeeded("ROUND_ROBIN"), false);
    const r = balanceCheck({
      ...base,
      sequential: true,
      tally: tallyOf([230, 230, 460]),
      policy: "LEAST_REQUEST",
      envoy: envoyOf([230, 230, 460], {}, [1, 1, 2]),
    });
    assert.equal(r.report.method, "round-robin-bound");
    assert.equal(r.check.passed, true, r.check.reason);
  });

  it("one replica: passes when it answered", () => {
    const one = [replicas[0]!];
    const r = balanceCheck({ ...base, replicas: one, tally: tallyOf([10], one), policy: "ROUND_ROBIN", envoy: envoyOf([10]) });
    assert.equal(r.check.passed, true);
    assert.equal(r.report.method, "none");
  });
});

describe("per-request", () => {
  it("sizes the one-connection probe", () => {
    assert.equal(perRequestSampleSize([1 / 3, 1 / 3, 1 / 3]), 37);
    assert.equal(perRequestSampleSize([1]), 4);
  });

  it("passes when one connection reached all replicas; fails naming the ones it never reached", () => {
    assert.equal(perRequestCheck(tallyOf([4, 4, 4]), 1, replicas).passed, true);
    const main = tallyOf([10, 10, 10]);
    const c = perRequestCheck(tallyOf([12, 0, 0]), 1, replicas, main);
    assert.equal(c.passed, false);
    assert.deepEqual(c.culprits, ["bbb222", "ccc333"]);
    assert.match(c.reason, /balances per connection \(L4\)/);
    assert.equal(perRequestCheck(tallyOf([4, 4, 4]), 3, replicas).passed, false);
  });
});

describe("agreement", () => {
  it("passes when Envoy's counters match exactly", () => {
    const c = agreementCheck(tallyOf([5, 6, 7]), replicas, envoyOf([5, 6, 7]));
    assert.equal(c.passed, true);
    assert.match(c.reason, /exactly/);
  });

  it("accepts growth explained by retries", () => {
    const c = agreementCheck(tallyOf([5, 6, 7]), replicas, envoyOf([5, 6, 9], { retries: 2 }));
    assert.equal(c.passed, true, c.reason);
  });

  it("fails on traffic the harness did not send, naming the host", () => {
    const c = agreementCheck(tallyOf([5, 6, 7]), replicas, envoyOf([5, 16, 7]));
    assert.equal(c.passed, false);
    assert.deepEqual(c.culprits, ["stack-service1-2"]);
    assert.match(c.reason, /10 more requests/);
  });

  it("fails when a replica answered more often than Envoy sent it requests (someone answers in its name)", () => {
    const c = agreementCheck(tallyOf([10, 5, 0]), replicas, envoyOf([5, 5, 5]));
    assert.equal(c.passed, false);
    assert.ok(c.culprits.includes("stack-service1-1"));
  });

  it("names an Envoy host that is no desired replica by its container, never by a bare address", () => {
    const envoy = envoyOf([5, 5, 5]);
    envoy.hosts.push(host(undefined, "172.20.0.99:8080", { rq_total: 3 }));
    const namer = {
      describeIp: (ip: string) => `container rogue-1 (hostname imposter, ${ip})`,
      describeHostname: (h: string) => `container rogue-1 (hostname ${h}, 172.20.0.99)`,
      containerOf: () => "rogue-1",
    };
    const c = agreementCheck(tallyOf([5, 5, 5]), replicas, envoy, namer);
    assert.equal(c.passed, false);
    assert.deepEqual(c.culprits, ["rogue-1"]);
    assert.match(
      c.reason,
      /Envoy sent 3 requests to container rogue-1 \(hostname imposter, 172\.20\.0\.99:8080\), which is no desired replica/,
    );
  });

  it("fails on Envoy hosts that are no replica", () => {
    const envoy = envoyOf([5, 5, 5]);
    envoy.hosts.push(host(undefined, "172.20.0.99:8080", { rq_total: 3 }));
    const c = agreementCheck(tallyOf([5, 5, 5]), replicas, envoy);
    assert.equal(c.passed, false);
    assert.deepEqual(c.culprits, ["172.20.0.99:8080"]);
  });
});

describe("Envoy view", () => {
  it("matches Envoy hosts to replicas by ip, and by port when replicas share an ip", () => {
    const local: ReplicaInfo[] = [
      { name: "b0", hostname: "a", ip: "127.0.0.1", port: 4001 },
      { name: "b1", hostname: "b", ip: "127.0.0.1", port: 4002 },
    ];
    assert.equal(replicaForHost("127.0.0.1", 4002, local)?.hostname, "b");
    assert.equal(replicaForHost("127.0.0.1", 4003, local), undefined);
    assert.equal(replicaForHost("172.20.0.6", 8080, replicas)?.hostname, "bbb222");
  });

  it("diffs counters, keeps gauges, and counts workers that took connections", () => {
    const mk = (rq: number, w0: number, w1: number): ClusterSnapshot => ({
      takenAt: 0,
      hosts: new Map([
        [
          "172.20.0.5:8080",
          { ip: "172.20.0.5", port: 8080, healthy: true, healthFlags: [], weight: 1, stats: { rq_total: rq, cx_active: 2 } },
        ],
      ]),
      endpoints: new Map([["172.20.0.5:8080", 1]]),
      upstreamRqTotal: rq,
      upstreamRqRetry: 0,
      upstreamRqRetryOverflow: 0,
      membershipChange: 1,
      healthCheckFailure: 0,
      workerConnections: new Map([
        [0, w0],
        [1, w1],
      ]),
    });
    const d = diffSnapshots(mk(10, 4, 3), mk(25, 8, 3), replicas);
    assert.equal(d.hosts[0]!.delta.rq_total, 15);
    assert.equal(d.hosts[0]!.delta.cx_active, 2);
    assert.equal(d.hosts[0]!.replica?.hostname, "aaa111");
    assert.equal(d.workersWithNewConnections, 1);
    assert.equal(d.upstreamRqTotal, 15);
  });
});
