// Observability end to end on the real stack: Prometheus scrapes Envoy and every replica (also
// those added by scale), agrees with the harness's load per cluster and per replica, answers every
// PromQL of harness/observability/queries.ts; Zipkin holds Envoy's and the service's spans of
// each traced request, correctly parented; verify's reports carry the panel from Prometheus. One
// stack for all of it.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { z } from "zod";
import { observabilityEndpoints, type ObservabilityEndpoints } from "../../harness/observability/endpoints.ts";
import { metricsCheck, takeMetricsSnapshot, type SentTraffic } from "../../harness/observability/metrics-check.ts";
import { PrometheusClient } from "../../harness/observability/prometheus.ts";
import { queryCatalogue } from "../../harness/observability/queries.ts";
import { observabilityPanel } from "../../harness/observability/report.ts";
import { waitForReplicaTargets } from "../../harness/observability/targets.ts";
import { tracingCheck } from "../../harness/observability/tracing-check.ts";
import { EnvoyAdmin } from "../../harness/envoy/admin.ts";
import { applyTracingSampling, tracingSampling } from "../../harness/envoy/tracing-sampling.ts";
import { ZipkinClient } from "../../harness/observability/zipkin.ts";
import { runningReplicas } from "../../harness/stack/discover.ts";
import { routeFor } from "../../harness/stack/routes.ts";
import { scale } from "../../harness/stages/scale.ts";
import { verifyStack } from "../../harness/verify/orchestrator.ts";
import { verifyReportSchema } from "../../harness/verify/schema.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";

const answerSchema = z.object({ hostname: z.string() });

/** `requests` GETs through Envoy, `concurrency` at a time, counted per answering replica. */
async function countedLoad(listenerUrl: string, service: string, requests: number, concurrency: number): Promise<SentTraffic> {
  const { path } = routeFor(service);
  const perReplica: Record<string, number> = {};
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (issued < requests) {
      issued += 1;
      const res = await fetch(`${listenerUrl}${path}`);
      assert.equal(res.status, 200, `${path} answered ${res.status}`);
      const { hostname } = answerSchema.parse(await res.json());
      perReplica[hostname] = (perReplica[hostname] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { service, total: requests, perReplica };
}

describe("observability on a real stack", { timeout: 900_000 }, () => {
  let stack: TestStack;
  let stop: (() => Promise<void>) | undefined;
  let endpoints: ObservabilityEndpoints;
  let prom: PrometheusClient;
  let zipkin: ZipkinClient;
  const replicaIps: Record<string, string[]> = {};
  const replicaRefs: Record<string, { hostname: string; ip: string }[]> = {};

  beforeAll(async () => {
    stack = await startTestStack("obs");
    stop = stack.stop;
    endpoints = await observabilityEndpoints(stack.ctx.docker, stack.config.projectName);
    prom = new PrometheusClient(endpoints.prometheusUrl);
    zipkin = new ZipkinClient(endpoints.zipkinUrl);
  });
  afterAll(() => stop?.());

  it("publishes Prometheus and Zipkin on 127.0.0.1 only, on ports Docker picked, both healthy", async () => {
    assert.match(endpoints.prometheusUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(endpoints.zipkinUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await prom.ready(), true);
    // Deploy waits for Prometheus but not for Zipkin (off the request path); its readers wait.
    await zipkin.untilHealthy(120_000);
    assert.equal(await zipkin.healthy(), true);
    const published = new Set([
      endpoints.prometheusUrl,
      endpoints.zipkinUrl,
      stack.deployed.endpoints.listenerUrl,
      stack.deployed.endpoints.adminUrl,
    ]);
    assert.equal(published.size, 4);
  });

  it("scrapes Envoy and every replica, including the ones `scale` adds (DNS discovery)", async () => {
    const scaled = await scale(stack.ctx, { service1: 3, service2: 2 });
    for (const [service, replicas] of Object.entries(scaled.replicas)) {
      replicaIps[service] = replicas.map((r) => r.ip);
      replicaRefs[service] = replicas.map((r) => ({ hostname: r.hostname, ip: r.ip }));
    }
    assert.equal(replicaIps.service1?.length, 3);
    const seconds = await waitForReplicaTargets(prom, replicaIps, { timeoutMs: 30_000 });
    console.log(`Prometheus scraped all ${Object.values(replicaIps).flat().length} replicas ${seconds.toFixed(1)} s after scale returned`);
    const envoy = await prom.targets(["envoy"]);
    assert.equal(envoy.length, 1);
    assert.equal(envoy[0]?.health, "up", envoy[0]?.lastError);
  });

  it("metrics check: Prometheus' counts agree with the load per Envoy cluster and per replica", async () => {
    const before = await takeMetricsSnapshot(prom);
    const sent = await Promise.all([
      countedLoad(stack.deployed.endpoints.listenerUrl, "service1", 90, 6),
      countedLoad(stack.deployed.endpoints.listenerUrl, "service2", 60, 4),
    ]);
    const loadEndedAt = new Date();
    for (const s of sent) s.replicas = replicaRefs[s.service] ?? [];
    const results = await metricsCheck(prom, { before, sent, loadEndedAt });
    for (const r of results) console.log(`${r.service}: ${r.detail}`);
    assert.deepEqual(
      results.map((r) => [r.service, r.passed]),
      [
        ["service1", true],
        ["service2", true],
      ],
      results.map((r) => r.detail).join("\n"),
    );
    const lag = results[0]?.metrics?.scrape_lag_s ?? NaN;
    assert.ok(lag >= 0 && lag < 5, `scrape lag ${lag}s`);
    console.log(`scrape lag ${lag.toFixed(2)} s, agreement after ${results[0]?.metrics?.agreement_after_s?.toFixed(2)} s`);
    for (const s of sent)
      assert.equal(Object.keys(s.perReplica).length, replicaIps[s.service]?.length, `${s.service}: every replica answered`);

    // The same check says no when the harness claims more than it sent, naming the replica.
    const liar = sent.map((s) => ({ ...s, perReplica: { ...s.perReplica } }));
    const [victim] = Object.keys(liar[0]?.perReplica ?? {});
    assert.ok(victim && liar[0]);
    liar[0].perReplica[victim] = (liar[0].perReplica[victim] ?? 0) + 5;
    liar[0].total += 5;
    const wrong = await metricsCheck(prom, { before, sent: liar, loadEndedAt: new Date(), timeoutMs: 3000 });
    console.log(`claimed 5 more than sent: ${wrong[0]?.detail}`);
    assert.equal(wrong[0]?.passed, false);
    assert.equal(wrong[1]?.passed, true, wrong[1]?.detail);
    assert.match(wrong[0]?.detail ?? "", new RegExp(`culprits: envoy cluster service1, ${victim}`));
    assert.match(
      wrong[0]?.detail ?? "",
      new RegExp(`replica ${victim} \\([\\d.]+:8080\\): Prometheus counts \\d+, fewer than the harness got from it`),
    );
  });

  it("every PromQL of the catalogue returns data from the real Prometheus", async () => {
    // A second load, now that every replica's series exist: a counter that appears already at its
    // final value (all its requests fell between two scrapes) shows no rate() at all, so windowed
    // queries of the replicas scaled up just before the first load would be flat (see
    // docs/observability.md, "Series that start late").
    await Promise.all([
      countedLoad(stack.deployed.endpoints.listenerUrl, "service1", 60, 6),
      countedLoad(stack.deployed.endpoints.listenerUrl, "service2", 40, 4),
    ]);
    await prom.waitForScrapeAfter(new Date(), { jobs: ["envoy", "services"] });
    const replicas = Object.values(replicaIps).flat().length;
    const missing: string[] = [];
    for (const entry of queryCatalogue({ window: "1m" })) {
      const samples = await prom.query(entry.promql);
      const want = entry.per === "replica" ? replicas : entry.per === "service" ? 2 : 1;
      const finite = samples.filter((s) => Number.isFinite(s.value));
      if (entry.per === "cluster" ? finite.length < 2 : finite.length < want) {
        missing.push(`${entry.id}: ${finite.length} finite samples (want ${want}): ${entry.promql}`);
      }
    }
    assert.deepEqual(missing, []);
    const cpu = await prom.query(queryCatalogue().find((e) => e.id === "envoy_cpu_percent")?.promql ?? "");
    const mem = await prom.query(queryCatalogue().find((e) => e.id === "envoy_memory_allocated")?.promql ?? "");
    console.log(`Envoy: cpu ${cpu[0]?.value}%, allocated ${((mem[0]?.value ?? 0) / 1e6).toFixed(1)} MB`);
    assert.ok((mem[0]?.value ?? 0) > 1e6);
  });

  it("tracing check: each request's trace holds Envoy's span and the service's child span", async () => {
    const results = await tracingCheck({
      listenerUrl: stack.deployed.endpoints.listenerUrl,
      zipkin,
      services: ["service1", "service2"].map((service) => ({ ...routeFor(service), service })),
    });
    for (const r of results) console.log(`${r.service}: ${r.detail} ${JSON.stringify(r.metrics)}`);
    assert.deepEqual(
      results.map((r) => [r.service, r.passed]),
      [
        ["service1", true],
        ["service2", true],
      ],
      results.map((r) => r.detail).join("\n"),
    );
    for (const r of results) assert.ok((r.metrics?.queryable_ms_max ?? Infinity) < 10_000);
  });

  it("tracing check passes with Envoy sampling 0 %, while a request that does not ask is not traced", async () => {
    const admin = new EnvoyAdmin(stack.deployed.endpoints.adminUrl);
    assert.equal(await tracingSampling(admin), stack.config.tracing.sampling, "deploy set the configured sampling rate");
    await applyTracingSampling(admin, 0);
    try {
      assert.equal(await tracingSampling(admin), 0);
      const plain = await fetch(`${stack.deployed.endpoints.listenerUrl}/service/1`);
      await plain.arrayBuffer();
      const plainTrace = plain.headers.get("x-b3-traceid");
      assert.ok(plainTrace, "Envoy still propagates trace ids when it does not sample");
      const results = await tracingCheck({
        listenerUrl: stack.deployed.endpoints.listenerUrl,
        zipkin,
        services: ["service1", "service2"].map((service) => ({ ...routeFor(service), service })),
      });
      assert.deepEqual(
        results.map((r) => [r.service, r.passed]),
        [
          ["service1", true],
          ["service2", true],
        ],
        results.map((r) => r.detail).join("\n"),
      );
      // The check's traces reached Zipkin after the plain request was answered, and every Envoy
      // worker's reporter flushes each second: by now the plain request's span would be there.
      assert.deepEqual(await zipkin.trace(plainTrace), [], "Envoy traced a request at 0 % sampling");
    } finally {
      await applyTracingSampling(admin, stack.config.tracing.sampling);
    }
  });

  it("report panel: latency quantiles and error ratio per service and replica", async () => {
    const panel = await observabilityPanel(prom, { window: "2m" });
    console.log(JSON.stringify({ ...panel, services: panel.services.slice(0, 1) }));
    assert.deepEqual(
      panel.services.map((s) => s.service),
      ["service1", "service2"],
    );
    for (const s of panel.services) {
      assert.equal(s.replicas.length, replicaIps[s.service]?.length, `${s.service} replicas in the panel`);
      assert.ok(s.latency.p50 !== null && s.latency.p99 !== null && s.latency.p50 <= s.latency.p99, JSON.stringify(s.latency));
      assert.equal(s.errorRatio, 0);
      assert.ok((s.statusClasses["2xx"] ?? 0) > 0);
    }
    assert.ok(panel.envoy.memoryAllocatedBytes !== null);
  });

  it("verify's reports carry the panel: verify.json, and verify.html with the real replicas' numbers", async () => {
    const dir = await mkdtemp(join(tmpdir(), "obs-verify-"));
    const { config, docker } = stack.ctx;
    const saved = { reportDir: config.reportDir, scale: config.scale, requests: config.verify.requests };
    try {
      Object.assign(config, { reportDir: dir, scale: { service1: 3, service2: 2 } });
      config.verify.requests = 600;
      const outcome = await verifyStack(stack.ctx);
      const panel = outcome.report.observability;
      assert.ok(panel, "the report has no observability panel (see the warning above)");
      console.log(
        `panel window ${panel.window}: ${JSON.stringify(panel.services.map((s) => [s.service, s.replicas.map((r) => [r.replica, r.requests, r.latency.p99])]))}`,
      );
      assert.deepEqual(
        panel.services.map((s) => s.service),
        ["service1", "service2"],
      );

      const json = verifyReportSchema.parse(JSON.parse(await readFile(outcome.files.json, "utf8")));
      assert.deepEqual(json.observability, panel, "verify.json carries the same panel");
      const html = await readFile(outcome.files.html, "utf8");
      assert.ok(html.includes("<h2>From Prometheus</h2>"), "verify.html has no From Prometheus section");
      const section = html.slice(html.indexOf("<h2>From Prometheus</h2>"));

      for (const s of panel.services) {
        const running = (await runningReplicas(docker, config.projectName, s.service)).map((r) => r.hostname).sort();
        assert.deepEqual(s.replicas.map((r) => r.replica).sort(), running, `${s.service}: the panel's replicas are the running containers`);
        const service = outcome.report.services.find((x) => x.service === s.service);
        assert.ok(service);
        // The panel covers the load-balancing load: from the last scrape before it (requests of the
        // earlier tests after that scrape fall inside, a handful at most) to the scrape the metrics
        // probe waited for, which also follows the tracing check's 2 probes per service. The exact
        // comparisons are the metrics and bytes checks' (probe window).
        for (const r of s.replicas) {
          const got: number =
            (service.replicas.find((x) => x.hostname === r.replica)?.count ?? 0) + (service.perRequest.seen[r.replica] ?? 0);
          assert.ok(got > 0, `${s.service}: the harness got nothing from ${r.replica}`);
          const counted = r.requests ?? -1;
          assert.ok(
            counted >= got && counted <= got + 7,
            `${s.service} ${r.replica}: Prometheus counted ${r.requests}, the harness got ${got}`,
          );
          assert.ok(
            r.latency.p50 !== null && r.latency.p99 !== null && r.latency.p50 <= r.latency.p99,
            `${r.replica}: ${JSON.stringify(r.latency)}`,
          );
          assert.equal(r.errorRatio, 0);
          // Its row in verify.html: the real hostname, and the same request count.
          assert.match(
            section,
            new RegExp(`<tr><td>${r.replica}</td><td class="n">${r.requests}</td>`),
            `${s.service}: no row for ${r.replica} in verify.html`,
          );
          assert.match(section, new RegExp(`<title>${s.service} replica ${r.replica}: p99 [\\d.]+ ms</title>`));
        }
        assert.match(section, new RegExp(`aria-label="latency quantiles per replica for ${s.service}"`));
        assert.match(section, new RegExp(`aria-label="error rate per replica for ${s.service}"`));
      }
      // Bytes: Prometheus' counters agree with the verifier's own counts (the bytes check), the
      // listener's to the byte, and both outputs show them.
      for (const service of outcome.report.services) {
        const check = service.checks.find((c) => c.name === "bytes");
        assert.ok(check?.passed, `${service.service} bytes check: ${check?.reason ?? "missing"}`);
        const bodies = Object.values(service.bytes?.bodyReceivedPerReplica ?? {}).reduce((a, b) => a + b, 0);
        assert.ok(bodies > 0);
        const out = panel.services.find((x) => x.service === service.service)?.bytes?.out ?? -1;
        assert.ok(
          out >= bodies && out <= bodies + 1000,
          `${service.service}: the replicas sent ${out} B of bodies, the verifier got ${bodies} B`,
        );
      }
      const wireSent = outcome.report.services.reduce((n, s) => n + (s.bytes?.wireSent ?? 0), 0);
      assert.ok(wireSent > 0);
      const listenerIn = panel.envoy.bytes?.listener.in ?? 0;
      // Beyond the load: a handful of earlier tests' requests (2000 B), and the tracing check's 2
      // probes per service, sent before the metrics probe's scrape that ends the panel's window
      // (at most 1000 B each with their B3 headers): the failing run saw 2,155 B beyond the load.
      const tracingProbes = 2 * outcome.report.services.length;
      assert.ok(
        listenerIn >= wireSent && listenerIn <= wireSent + 2000 + 1000 * tracingProbes,
        `Envoy's listener took in ${listenerIn} B, the verifier sent ${wireSent} B`,
      );
      for (const name of ["metrics", "bytes"] as const) {
        for (const s of outcome.report.services) assert.equal(s.checks.find((c) => c.name === name)?.passed, true, `${s.service} ${name}`);
      }
      console.log(`bytes: ${JSON.stringify(panel.envoy.bytes)}`);
      assert.match(outcome.table, /bytes and bandwidth over [\d.]+ s \(Prometheus\):\n {2}from Prometheus/);
      assert.match(section, /<table class="bytes">/);
      assert.ok(panel.envoy.memoryAllocatedBytes !== null && panel.envoy.memoryAllocatedBytes > 1e6);
      assert.match(section, /<th>CPU<\/th><th>memory allocated<\/th>.*\n<tr><td class="n">[\d.]+ %<\/td><td class="n">[\d.]+ MiB<\/td>/);
    } finally {
      Object.assign(config, { reportDir: saved.reportDir, scale: saved.scale });
      config.verify.requests = saved.requests;
      await rm(dir, { recursive: true, force: true });
    }
  });
});
