// The observability checks can say no: on a stack whose Envoy runs without tracing and whose
// Prometheus scrapes service2 on a wrong port (test/fixtures/compose/observability-broken*.yml),
// the metrics check fails for service2 naming its replica and the target's error (service1 still
// passes), and the tracing check fails because Envoy's span is missing.
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { z } from "zod";
import { repoRoot } from "../../harness/lib/paths.ts";
import { observabilityEndpoints } from "../../harness/observability/endpoints.ts";
import { metricsCheck, takeMetricsSnapshot, type SentTraffic } from "../../harness/observability/metrics-check.ts";
import { PrometheusClient } from "../../harness/observability/prometheus.ts";
import { tracingCheck } from "../../harness/observability/tracing-check.ts";
import { ZipkinClient } from "../../harness/observability/zipkin.ts";
import { routeFor } from "../../harness/stack/routes.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";

const answerSchema = z.object({ hostname: z.string() });

async function countedLoad(listenerUrl: string, service: string, requests: number): Promise<SentTraffic> {
  const perReplica: Record<string, number> = {};
  for (let i = 0; i < requests; i++) {
    const res = await fetch(`${listenerUrl}${routeFor(service).path}`);
    assert.equal(res.status, 200);
    const { hostname } = answerSchema.parse(await res.json());
    perReplica[hostname] = (perReplica[hostname] ?? 0) + 1;
  }
  return { service, total: requests, perReplica };
}

describe("observability checks on a stack with broken observability", { timeout: 600_000 }, () => {
  let stack: TestStack;
  let stop: (() => Promise<void>) | undefined;
  let prom: PrometheusClient;
  let zipkin: ZipkinClient;

  beforeAll(async () => {
    stack = await startTestStack("obs-broken", { composeFile: resolve(repoRoot, "test/fixtures/compose/observability-broken.yml") });
    stop = stack.stop;
    const endpoints = await observabilityEndpoints(stack.ctx.docker, stack.config.projectName);
    prom = new PrometheusClient(endpoints.prometheusUrl);
    zipkin = new ZipkinClient(endpoints.zipkinUrl);
  });
  afterAll(() => stop?.());

  it("the metrics check fails for service2, naming its unscraped replica and the scrape error", async () => {
    const before = await takeMetricsSnapshot(prom);
    const sent = [
      await countedLoad(stack.deployed.endpoints.listenerUrl, "service1", 20),
      await countedLoad(stack.deployed.endpoints.listenerUrl, "service2", 20),
    ];
    for (const s of sent) s.replicas = (stack.deployed.replicas[s.service] ?? []).map((r) => ({ hostname: r.hostname, ip: r.ip }));
    const results = await metricsCheck(prom, { before, sent, loadEndedAt: new Date(), timeoutMs: 5000 });
    for (const r of results) console.log(`${r.service}: ${r.passed ? "passed" : "FAILED"}: ${r.detail}`);
    const [one, two] = results;
    assert.equal(one?.passed, true, one?.detail);
    assert.equal(two?.passed, false);
    const replica = stack.deployed.replicas.service2?.[0];
    assert.ok(replica);
    assert.match(two?.detail ?? "", new RegExp(`culprit: ${replica.hostname}`));
    assert.match(
      two?.detail ?? "",
      new RegExp(
        `replica ${replica.hostname}: the harness got 20 answers from it, Prometheus has no series for it — target ${replica.ip.replace(/\./g, "\\.")}:8081 is down: .*connection refused`,
      ),
    );
  });

  it("the tracing check fails: Envoy reports no span and starts no trace", async () => {
    const results = await tracingCheck({
      listenerUrl: stack.deployed.endpoints.listenerUrl,
      zipkin,
      services: [{ ...routeFor("service1"), service: "service1" }],
      timeoutMs: 5000,
    });
    const r = results[0];
    console.log(`service1: ${r?.detail}`);
    assert.equal(r?.passed, false);
    assert.match(
      r?.detail ?? "",
      /request without trace context \(trace [0-9a-f]{32}\): trace [0-9a-f]{32} has no span from front-envoy \(Envoy did not trace the request/,
    );
    assert.match(r?.detail ?? "", /service1's span is a root span: no trace context reached the service/);
    assert.match(r?.detail ?? "", /request with a B3 context .*Envoy passed the headers through without a span of its own/);
  });
});
