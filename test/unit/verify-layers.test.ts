// Envoy's two layers: per-connection balancing over L4, per-request over L7.
import { describe, expect, it } from "vitest";
import { l4ConnectionsFor, layerCheck, layersResult } from "../../harness/verify/layers.ts";

const replicas = ["a", "b", "c"];

describe("L4 versus L7", () => {
  it("passes when each L4 connection stays on one replica, connections spread, and one L7 connection reaches all", () => {
    const v = layerCheck({
      l4Connections: [
        ["a", "a"],
        ["b", "b"],
        ["c", "c"],
        ["a", "a"],
      ],
      l7Connection: ["a", "b", "c", "a", "b", "c"],
      replicas,
    });
    expect(v.passed).toBe(true);
    expect(v.l4ConnectionsPerReplica).toEqual({ a: 2, b: 1, c: 1 });
    expect(v.l7RequestsPerReplica).toEqual({ a: 2, b: 2, c: 2 });
    expect(v.reason).toBe(
      "L4: 4 connections × ~2 requests, each on one replica (connections per replica: a 2, b 1, c 1); L7: 6 requests over one connection reached 3 of 3 replicas (a 2, b 2, c 2)",
    );
  });
  it("counts hostnames that are no desired replica apart from the replicas reached (membership judges them)", () => {
    const v = layerCheck({
      l4Connections: [["a"], ["b"], ["c"]],
      l7Connection: ["a", "b", "c", "x", "y"],
      replicas,
    });
    expect(v.reason).toMatch(
      /L7: 5 requests over one connection reached 3 of 3 replicas and 2 other hostnames \(membership judges those\)/,
    );
    const missing = layerCheck({ l4Connections: [["a"], ["b"], ["a"]], l7Connection: ["a", "b", "x"], replicas });
    expect(missing.passed).toBe(false);
    expect(missing.reason).toMatch(/reached 2 of 3 replicas and 1 other hostname \(/);
  });
  it("fails when an L4 connection was answered by several replicas (the listener balances requests)", () => {
    const v = layerCheck({
      l4Connections: [
        ["a", "b"],
        ["c", "c"],
        ["a", "a"],
      ],
      l7Connection: ["a", "b", "c"],
      replicas,
    });
    expect(v.passed).toBe(false);
    expect(v.reason).toMatch(/^L4 connection 1 was answered by 2 replicas \(a, b\): not connection-level/);
  });
  it("fails when every L4 connection lands on one replica, or one L7 connection misses a replica", () => {
    expect(layerCheck({ l4Connections: [["a"], ["a"], ["a"]], l7Connection: ["a", "b", "c"], replicas }).reason).toMatch(
      /all 3 L4 connections went to one replica/,
    );
    expect(layerCheck({ l4Connections: [["a"], ["b"], ["c"]], l7Connection: ["a", "a", "a"], replicas }).reason).toMatch(
      /one L7 connection did not reach b, c: not request-level/,
    );
  });
  it("fails when an L4 connection got no answer", () => {
    expect(layerCheck({ l4Connections: [["a"], []], l7Connection: ["a", "b", "c"], replicas }).passed).toBe(false);
  });

  it("as verify's check: both distributions in the report; a missing L4 listener or a reopened connection fails it", () => {
    const probe = {
      connections: [
        ["a", "a"],
        ["b", "b"],
        ["c", "c"],
      ],
      reconnected: 0,
      failures: [],
    };
    const l7 = { seen: { a: 2, b: 1, c: 1 }, connectionsOpened: 1 };
    const hosts = replicas.map((hostname) => ({ hostname }));
    const ok = layersResult({ url: "http://127.0.0.1:1", probe }, l7, hosts);
    expect(ok.check).toMatchObject({ name: "layers", passed: true, culprits: [] });
    expect(ok.report).toEqual({
      l4: { url: "http://127.0.0.1:1", connections: 3, requests: 6, mixedConnections: 0, connectionsPerReplica: { a: 1, b: 1, c: 1 } },
      l7: { requests: 4, connections: 1, requestsPerReplica: { a: 2, b: 1, c: 1 } },
    });
    const reopened = layersResult({ url: "http://127.0.0.1:1", probe: { ...probe, reconnected: 1 } }, l7, hosts);
    expect(reopened.check.passed).toBe(false);
    expect(reopened.check.reason).toMatch(/^1 L4 connection\(s\) were reopened/);
    const missing = layersResult({ missing: "front-envoy publishes no L4 listener for service1 (container port 8081)" }, l7, hosts);
    expect(missing).toEqual({
      check: {
        name: "layers",
        passed: false,
        reason: "could not run: front-envoy publishes no L4 listener for service1 (container port 8081)",
        culprits: [],
        details: [],
      },
      report: undefined,
    });
    expect([1, 3].map(l4ConnectionsFor)).toEqual([3, 9]);
  });
});
