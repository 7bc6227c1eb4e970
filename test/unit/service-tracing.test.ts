// Tracing: B3 / traceparent extraction, the service's span as a child of Envoy's span, reporting
// to a Zipkin collector (a small local HTTP server standing in for it), batching and failures.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { test, vi } from "vitest";
import { closeServer } from "../support/servers.ts";
import { pollUntil } from "../../harness/lib/poll.ts";
import { createServer, type ServiceOptions } from "../../services/src/app.ts";
import { loadConfig } from "../../services/src/config.ts";
import { createLogger, silentLogger } from "../../services/src/logging.ts";
import { ZipkinReporter, createReporter, noopReporter } from "../../services/src/reporter.ts";
import { extractTraceContext, randomId, remoteEndpoint, type ZipkinSpan } from "../../services/src/tracing.ts";

type After = { onTestFinished(fn: () => unknown): void };

const IDENTITY = { hostname: "fc4a73df5ae8", ip: "172.20.0.5" };
const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;

/** A stand-in Zipkin collector recording every POST; `status` and `hang` simulate failures. */
async function startCollector(t: After, behaviour: { status?: number; hang?: boolean } = {}) {
  const posts: { path: string; contentType: string | undefined; spans: ZipkinSpan[] }[] = [];
  /** POSTs a hanging collector received (and never answers). */
  let held = 0;
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      if (behaviour.hang) {
        held += 1;
        return; // never answers
      }
      posts.push({ path: req.url ?? "", contentType: req.headers["content-type"], spans: JSON.parse(body) as ZipkinSpan[] });
      res.writeHead(behaviour.status ?? 202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.onTestFinished(() => closeServer(server));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2/spans`;
  const spans = () => posts.flatMap((p) => p.spans);
  /** Resolves once at least `n` spans have arrived; rejects after `ms` (a bound on the wait, not on the reporter). */
  const waitForSpans = (n: number, ms = 10_000) =>
    pollUntil(() => (spans().length >= n ? spans() : undefined), {
      timeoutMs: ms,
      intervalMs: 10,
      timeoutError: () => new Error(`collector got ${spans().length} spans, wanted ${n}`),
    });
  const waitForHeld = (n: number) =>
    pollUntil(() => (held >= n ? true : undefined), { timeoutMs: 10_000, intervalMs: 10, what: `${n} POSTs` });
  return { endpoint, posts, spans, waitForSpans, waitForHeld };
}

async function startService(t: After, env: Record<string, string>, extra: Partial<ServiceOptions> = {}) {
  const config = loadConfig({ SERVICE_ID: "1", ...env });
  const server = createServer({ config, identity: IDENTITY, logger: silentLogger, defaultMetrics: false, ...extra });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.onTestFinished(() => closeServer(server));
  return { port: (server.address() as AddressInfo).port, config };
}

function get(port: number, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on("error", reject);
  });
}

function span(overrides: Partial<ZipkinSpan> = {}): ZipkinSpan {
  return {
    traceId: "463ac35c9f6413ad",
    id: "a2fb4a1d1a96d312",
    kind: "SERVER",
    name: "test",
    timestamp: Date.now() * 1000,
    duration: 10,
    localEndpoint: { serviceName: "t" },
    tags: {},
    ...overrides,
  };
}

// --- extraction --------------------------------------------------------------------------------

test("B3 multi-headers: same trace, parent = incoming span, a new 64-bit span id, sampled", () => {
  const ctx = extractTraceContext({
    "x-b3-traceid": "463ac35c9f6413ad48485a3953bb6124",
    "x-b3-spanid": "a2fb4a1d1a96d312",
    "x-b3-parentspanid": "0020000000000001",
    "x-b3-sampled": "1",
  });
  assert.equal(ctx.source, "b3");
  assert.equal(ctx.traceId, "463ac35c9f6413ad48485a3953bb6124");
  assert.equal(ctx.parentId, "a2fb4a1d1a96d312");
  assert.match(ctx.spanId, HEX16);
  assert.notEqual(ctx.spanId, "a2fb4a1d1a96d312");
  assert.equal(ctx.sampled, true);
  assert.equal(ctx.debug, false);
});

test("B3 sampling: 0/false is not sampled, absent defers to us (sampled), x-b3-flags: 1 is debug", () => {
  const base = { "x-b3-traceid": "463ac35c9f6413ad", "x-b3-spanid": "a2fb4a1d1a96d312" };
  assert.equal(extractTraceContext({ ...base, "x-b3-sampled": "0" }).sampled, false);
  assert.equal(extractTraceContext({ ...base, "x-b3-sampled": "false" }).sampled, false);
  assert.equal(extractTraceContext({ ...base, "x-b3-sampled": "true" }).sampled, true);
  assert.equal(extractTraceContext(base).sampled, true);
  const debug = extractTraceContext({ ...base, "x-b3-flags": "1" });
  assert.equal(debug.sampled, true);
  assert.equal(debug.debug, true);
  // Upper-case hex is accepted and normalised.
  assert.equal(extractTraceContext({ "x-b3-traceid": "463AC35C9F6413AD", "x-b3-spanid": "A2FB4A1D1A96D312" }).traceId, "463ac35c9f6413ad");
});

test("malformed or all-zero B3 ids start a new 128-bit trace", () => {
  for (const headers of [
    { "x-b3-traceid": "463ac35c9f6413a", "x-b3-spanid": "a2fb4a1d1a96d312" },
    { "x-b3-traceid": "0000000000000000", "x-b3-spanid": "a2fb4a1d1a96d312" },
    { "x-b3-traceid": "463ac35c9f6413ad", "x-b3-spanid": "0000000000000000" },
    { "x-b3-traceid": "463ac35c9f6413ad" },
    { "x-b3-traceid": "zz3ac35c9f6413ad", "x-b3-spanid": "a2fb4a1d1a96d312" },
    {},
  ]) {
    const ctx = extractTraceContext(headers);
    assert.equal(ctx.source, "new", JSON.stringify(headers));
    assert.match(ctx.traceId, HEX32);
    assert.equal(ctx.parentId, undefined);
    assert.match(ctx.spanId, HEX16);
    assert.equal(ctx.sampled, true);
  }
  assert.notEqual(extractTraceContext({}).traceId, extractTraceContext({}).traceId);
});

test("W3C traceparent is accepted; flags 00 is not sampled; version ff is rejected; B3 wins", () => {
  const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const ctx = extractTraceContext({ traceparent: tp });
  assert.equal(ctx.source, "traceparent");
  assert.equal(ctx.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(ctx.parentId, "00f067aa0ba902b7");
  assert.equal(ctx.sampled, true);
  assert.equal(extractTraceContext({ traceparent: tp.replace(/01$/, "00") }).sampled, false);
  assert.equal(extractTraceContext({ traceparent: tp.replace(/^00/, "ff") }).source, "new");
  assert.equal(extractTraceContext({ traceparent: `${tp}-extra` }).source, "new");
  const both = extractTraceContext({ traceparent: tp, "x-b3-traceid": "463ac35c9f6413ad", "x-b3-spanid": "a2fb4a1d1a96d312" });
  assert.equal(both.traceId, "463ac35c9f6413ad");
});

test("single b3 header: id-id-flag, and a lone 0 means do not sample", () => {
  const ctx = extractTraceContext({ b3: "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90" });
  assert.equal(ctx.source, "b3-single");
  assert.equal(ctx.traceId, "80f198ee56343ba864fe8b2a57d3eff7");
  assert.equal(ctx.parentId, "e457b5a2e4d86bd1");
  assert.equal(extractTraceContext({ b3: "80f198ee56343ba8-e457b5a2e4d86bd1-0" }).sampled, false);
  assert.equal(extractTraceContext({ b3: "80f198ee56343ba8-e457b5a2e4d86bd1-d" }).debug, true);
  const deny = extractTraceContext({ b3: "0" });
  assert.equal(deny.source, "new");
  assert.equal(deny.sampled, false);
});

test("random ids are lower hex of the right length, non-zero and unique across pool refills", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const span = randomId(8);
    const trace = randomId(16);
    assert.match(span, HEX16);
    assert.match(trace, HEX32);
    assert.doesNotMatch(span, /^0+$/);
    seen.add(span).add(trace);
  }
  assert.equal(seen.size, 4000);
});

test("remoteEndpoint maps IPv4-mapped IPv6 to ipv4", () => {
  assert.deepEqual(remoteEndpoint("::ffff:172.20.0.2", 4242), { ipv4: "172.20.0.2", port: 4242 });
  assert.deepEqual(remoteEndpoint("fd00::2", undefined), { ipv6: "fd00::2" });
  assert.equal(remoteEndpoint(undefined, 1), undefined);
});

// --- end to end through the service ------------------------------------------------------------

test("with incoming B3 headers the reported span is a child of Envoy's span in the same trace", async (t) => {
  const collector = await startCollector(t);
  // The reporter main.ts would build from ZIPKIN_ENDPOINT, held here so the test can flush it.
  const config = loadConfig({ SERVICE_ID: "1", ZIPKIN_ENDPOINT: collector.endpoint });
  const reporter = createReporter(config.zipkinEndpoint, silentLogger);
  const svc = await startService(t, { ZIPKIN_ENDPOINT: collector.endpoint }, { reporter });

  const before = Date.now() * 1000;
  const res = await get(svc.port, "/service/1", {
    "x-b3-traceid": "463ac35c9f6413ad",
    "x-b3-spanid": "a2fb4a1d1a96d312",
    "x-b3-parentspanid": "0020000000000001",
    "x-b3-sampled": "1",
    "x-request-id": "3c1b2e0a-envoy",
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers["x-b3-traceid"], "463ac35c9f6413ad");
  assert.equal(res.headers["x-request-id"], "3c1b2e0a-envoy");
  await reporter.flush();

  assert.equal(collector.posts.length, 1);
  const post = collector.posts[0]!;
  assert.equal(post.path, "/api/v2/spans");
  assert.match(String(post.contentType), /^application\/json/);
  assert.equal(post.spans.length, 1);
  const s = post.spans[0]!;
  assert.equal(s.traceId, "463ac35c9f6413ad");
  assert.equal(s.parentId, "a2fb4a1d1a96d312");
  assert.match(s.id, HEX16);
  assert.notEqual(s.id, "a2fb4a1d1a96d312");
  assert.equal(s.kind, "SERVER");
  assert.equal(s.name, "get /service/:id");
  assert.deepEqual(s.localEndpoint, { serviceName: "service1", ipv4: IDENTITY.ip });
  assert.equal(s.remoteEndpoint?.ipv4, "127.0.0.1");
  assert.equal(s.tags.replica, IDENTITY.hostname);
  assert.equal(s.tags["service.id"], "1");
  assert.equal(s.tags["http.method"], "GET");
  assert.equal(s.tags["http.path"], "/service/1");
  assert.equal(s.tags["http.status_code"], "200");
  assert.equal(s.tags["guid:x-request-id"], "3c1b2e0a-envoy");
  assert.equal(s.tags.error, undefined);
  assert.ok(Number.isInteger(s.timestamp) && Number.isInteger(s.duration), "microseconds are integers");
  assert.ok(s.timestamp >= before - 1000 && s.timestamp <= Date.now() * 1000 + 1000, "timestamp is epoch microseconds");
  assert.ok(s.duration >= 1 && s.duration < 5_000_000, `duration ${s.duration} µs`);
});

test("without trace headers a new trace starts and its id comes back in x-b3-traceid", async (t) => {
  const collector = await startCollector(t);
  const reporter = createReporter(collector.endpoint, silentLogger);
  const svc = await startService(t, {}, { reporter });
  const a = await get(svc.port, "/service/1");
  const b = await get(svc.port, "/service/1");
  const traceA = String(a.headers["x-b3-traceid"]);
  assert.match(traceA, HEX32);
  assert.notEqual(traceA, b.headers["x-b3-traceid"]);
  await reporter.flush();
  const spans = collector.spans();
  assert.equal(spans.length, 2);
  const spanA = spans.find((s) => s.traceId === traceA);
  assert.ok(spanA, "span for the first request reported under the returned trace id");
  assert.equal(spanA.parentId, undefined);
  assert.equal("parentId" in spanA, false);
});

test("x-b3-sampled: 0 is not reported; a sampled request after it is", async (t) => {
  const collector = await startCollector(t);
  const reporter = createReporter(collector.endpoint, silentLogger);
  const svc = await startService(t, {}, { reporter });
  const headers = { "x-b3-traceid": "1111111111111111", "x-b3-spanid": "2222222222222222" };
  const unsampled = await get(svc.port, "/service/1", { ...headers, "x-b3-sampled": "0" });
  assert.equal(unsampled.status, 200);
  assert.equal(unsampled.headers["x-b3-traceid"], "1111111111111111");
  await get(svc.port, "/service/1", { "x-b3-traceid": "3333333333333333", "x-b3-spanid": "4444444444444444", "x-b3-sampled": "1" });
  await reporter.flush();
  assert.deepEqual(
    collector.spans().map((s) => s.traceId),
    ["3333333333333333"],
  );
});

test("traceparent context is joined; 404 and 405 spans carry their status and route", async (t) => {
  const collector = await startCollector(t);
  const reporter = createReporter(collector.endpoint, silentLogger);
  const svc = await startService(t, {}, { reporter });
  await get(svc.port, "/service/7", { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" });
  await reporter.flush();
  const [s] = collector.spans();
  assert.ok(s);
  assert.equal(s.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(s.parentId, "00f067aa0ba902b7");
  assert.equal(s.tags["http.status_code"], "404");
  assert.equal(s.tags["http.path"], "/service/7");
  assert.equal(s.name, "get /service/:id");
});

test("the default reporter comes from ZIPKIN_ENDPOINT and flushes on its own (nobody calls flush)", async (t) => {
  const collector = await startCollector(t);
  const svc = await startService(t, { ZIPKIN_ENDPOINT: collector.endpoint });
  const res = await get(svc.port, "/service/1");
  const spans = await collector.waitForSpans(1);
  assert.equal(spans[0]?.traceId, res.headers["x-b3-traceid"]);
});

test("a partial batch is sent flushIntervalMs after its first span, not before", async (t) => {
  const collector = await startCollector(t);
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  t.onTestFinished(() => {
    vi.useRealTimers();
  });
  const reporter = new ZipkinReporter({ endpoint: collector.endpoint, logger: silentLogger, flushIntervalMs: 500 });
  reporter.report(span());
  vi.advanceTimersByTime(300);
  reporter.report(span()); // does not restart the timer
  vi.advanceTimersByTime(199);
  assert.equal(reporter.queued, 2, "nothing sent before the interval");
  vi.advanceTimersByTime(1);
  assert.equal(reporter.queued, 0, "both handed to one POST at the interval");
  vi.useRealTimers();
  await collector.waitForSpans(2);
  assert.deepEqual(
    collector.posts.map((p) => p.spans.length),
    [2],
  );
});

test("unset ZIPKIN_ENDPOINT means no reporting", () => {
  assert.equal(createReporter(loadConfig({ SERVICE_ID: "1" }).zipkinEndpoint, silentLogger), noopReporter);
  assert.notEqual(createReporter("http://127.0.0.1:9/api/v2/spans", silentLogger), noopReporter);
});

// --- the reporter --------------------------------------------------------------------------------

test("reporter sends at 50 spans without waiting for the timer, in batches of at most 50", async (t) => {
  const collector = await startCollector(t);
  const reporter = new ZipkinReporter({ endpoint: collector.endpoint, logger: silentLogger, flushIntervalMs: 60_000 });
  for (let i = 0; i < 49; i++) reporter.report(span({ id: (i + 1).toString(16).padStart(16, "0") }));
  assert.equal(reporter.queued, 49, "49 spans wait for the timer");
  reporter.report(span({ id: "00000000000000ff" }));
  assert.equal(reporter.queued, 0, "the 50th span starts a POST at once");
  await collector.waitForSpans(50);
  assert.deepEqual(
    collector.posts.map((p) => p.spans.length),
    [50],
  );
  for (let i = 0; i < 70; i++) reporter.report(span());
  await reporter.flush();
  const sizes = collector.posts.map((p) => p.spans.length);
  assert.equal(
    sizes.reduce((a, b) => a + b, 0),
    120,
  );
  assert.ok(
    sizes.every((n) => n <= 50),
    `batch sizes ${sizes.join(",")}`,
  );
  assert.equal(reporter.stats.sent, 120);
});

test("a failing collector is logged, counted, and never throws", async (t) => {
  const collector = await startCollector(t, { status: 500 });
  const lines: string[] = [];
  const logger = createLogger({ write: (l) => lines.push(l) });
  const reporter = new ZipkinReporter({ endpoint: collector.endpoint, logger });
  reporter.report(span());
  await reporter.flush();
  assert.equal(reporter.stats.failed, 1);
  assert.equal(reporter.stats.sent, 0);
  const warning = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "zipkin report failed");
  assert.ok(warning, `no warning in ${lines.join("")}`);
  assert.equal(warning.level, "warn");
  assert.match(JSON.stringify(warning.error), /HTTP 500/);
});

test("an unreachable collector does not break requests", async (t) => {
  // Find a port nobody listens on: bind one, then close it.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const deadPort = probe.address() as AddressInfo;
  await closeServer(probe);
  const lines: string[] = [];
  const logger = createLogger({ write: (l) => lines.push(l) });
  const reporter = new ZipkinReporter({ endpoint: `http://127.0.0.1:${deadPort.port}/api/v2/spans`, logger, flushIntervalMs: 10 });
  const svc = await startService(t, {}, { reporter, logger });
  for (let i = 0; i < 5; i++) assert.equal((await get(svc.port, "/service/1")).status, 200);
  await reporter.flush();
  assert.equal(reporter.stats.failed, 5);
  assert.ok(lines.some((l) => l.includes('"zipkin report failed"')));
  assert.equal((await get(svc.port, "/healthz")).status, 200);
});

test("close() gives up on a collector that never answers at its own timeout, not the POST's", async (t) => {
  const collector = await startCollector(t, { hang: true });
  const reporter = new ZipkinReporter({ endpoint: collector.endpoint, logger: silentLogger, requestTimeoutMs: 30_000 });
  reporter.report(span());
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  t.onTestFinished(() => {
    vi.useRealTimers();
  });
  let closed = false;
  const closing = reporter.close(200).then(() => (closed = true));
  await collector.waitForHeld(1); // the POST is at the collector, which holds it
  vi.advanceTimersByTime(199);
  await Promise.resolve();
  assert.equal(closed, false, "close() still waits for the POST before its timeout");
  vi.advanceTimersByTime(1);
  await closing;
  vi.useRealTimers();
  reporter.report(span());
  assert.equal(reporter.stats.sent, 0);
  assert.ok(reporter.stats.dropped >= 1, "spans reported after close are dropped");
});

test("health checks and metrics scrapes are never traced, with or without trace headers; other routes are", async (t) => {
  const collector = await startCollector(t);
  const reporter = createReporter(collector.endpoint, silentLogger);
  const svc = await startService(t, {}, { reporter });
  const b3 = { "x-b3-traceid": "5555555555555555", "x-b3-spanid": "6666666666666666", "x-b3-sampled": "1" };
  for (const path of ["/healthz", "/metrics", "/healthz/"]) {
    assert.equal((await get(svc.port, path)).status, 200, path);
    assert.equal((await get(svc.port, path, b3)).status, 200, path);
  }
  // A wrong method on a probe route is still a probe route: no span either.
  await new Promise<void>((resolve, reject) => {
    http
      .request({ host: "127.0.0.1", port: svc.port, path: "/healthz", method: "POST", agent: false }, (res) =>
        res.resume().on("end", resolve),
      )
      .on("error", reject)
      .end();
  });
  await get(svc.port, "/service/1");
  await get(svc.port, "/nope");
  await reporter.flush();
  assert.deepEqual(
    collector
      .spans()
      .map((s) => s.name)
      .sort(),
    ["get /service/:id", "get unmatched"],
  );
});
