// Tracing (OpenTelemetry SDK): B3 / traceparent context in, the service's span as a child of
// Envoy's span, Zipkin v2 JSON out to a small local HTTP server standing in for the collector,
// batching and failures.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { test, vi } from "vitest";
import { closeServer } from "../support/servers.ts";
import { pollUntil } from "../../harness/lib/poll.ts";
import { createServer, type ServiceOptions } from "../../services/src/app.ts";
import { loadConfig } from "../../services/src/config.ts";
import { createLogger, silentLogger } from "../../services/src/logging.ts";
import { Tracing, zipkinTraceId } from "../../services/src/tracing.ts";

type After = { onTestFinished(fn: () => unknown): void };

const IDENTITY = { hostname: "fc4a73df5ae8", ip: "172.20.0.5" };
const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;

/** Zipkin API v2 span, as the collector receives it. */
interface ZipkinSpan {
  traceId: string;
  parentId?: string;
  id: string;
  kind?: string;
  name: string;
  timestamp: number;
  duration: number;
  localEndpoint: { serviceName?: string };
  tags: Record<string, string>;
}

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
  /** Resolves once at least `n` spans have arrived; rejects after `ms` (a bound on the wait, not on the exporter). */
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

/** Tracing as main.ts builds it from ZIPKIN_ENDPOINT, held here so a test can flush it. */
const tracingTo = (endpoint: string | undefined, logger = silentLogger) => new Tracing({ endpoint, serviceName: "service1", logger });

/** The span the collector got for one request with these headers, and the response's trace id. */
async function traced(t: After, headers: Record<string, string>, path = "/service/1") {
  const collector = await startCollector(t);
  const tracing = tracingTo(collector.endpoint);
  const svc = await startService(t, {}, { tracing });
  const res = await get(svc.port, path, headers);
  await tracing.flush();
  return { res, traceId: res.headers["x-b3-traceid"], spans: collector.spans() };
}

// --- trace context in ------------------------------------------------------------------------------

test("B3 sampling: 0/false is not sampled, absent defers to us (sampled), true and x-b3-flags: 1 are", async (t) => {
  const base = { "x-b3-traceid": "463ac35c9f6413ad", "x-b3-spanid": "a2fb4a1d1a96d312" };
  for (const [extra, sampled] of [
    [{ "x-b3-sampled": "0" }, false],
    [{ "x-b3-sampled": "false" }, false],
    [{ "x-b3-sampled": "true" }, true],
    [{}, true],
    [{ "x-b3-flags": "1" }, true],
  ] as const) {
    const { traceId, spans } = await traced(t, { ...base, ...extra });
    assert.equal(traceId, "463ac35c9f6413ad", JSON.stringify(extra));
    assert.equal(spans.length, sampled ? 1 : 0, JSON.stringify(extra));
    if (sampled) assert.equal(spans[0]?.parentId, "a2fb4a1d1a96d312");
  }
  // Upper-case hex is accepted and normalised; a 128-bit id stays 128-bit.
  const upper = await traced(t, { "x-b3-traceid": "463AC35C9F6413AD48485A3953BB6124", "x-b3-spanid": "A2FB4A1D1A96D312" });
  assert.equal(upper.traceId, "463ac35c9f6413ad48485a3953bb6124");
  assert.equal(upper.spans[0]?.parentId, "a2fb4a1d1a96d312");
});

test("malformed or all-zero B3 ids start a new 128-bit root trace", async (t) => {
  const malformed: Record<string, string>[] = [
    { "x-b3-traceid": "0000000000000000", "x-b3-spanid": "a2fb4a1d1a96d312" },
    { "x-b3-traceid": "463ac35c9f6413ad", "x-b3-spanid": "0000000000000000" },
    { "x-b3-traceid": "463ac35c9f6413ad" },
    { "x-b3-traceid": "zz3ac35c9f6413ad", "x-b3-spanid": "a2fb4a1d1a96d312" },
  ];
  for (const headers of malformed) {
    const { traceId, spans } = await traced(t, headers);
    assert.match(String(traceId), HEX32, JSON.stringify(headers));
    assert.equal(spans.length, 1);
    assert.equal(spans[0]?.traceId, traceId);
    assert.equal(spans[0]?.parentId, undefined);
  }
});

test("W3C traceparent is accepted; flags 00 is not sampled; version ff is rejected; B3 wins", async (t) => {
  const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const joined = await traced(t, { traceparent: tp });
  assert.equal(joined.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(joined.spans[0]?.parentId, "00f067aa0ba902b7");
  const unsampled = await traced(t, { traceparent: tp.replace(/01$/, "00") });
  assert.equal(unsampled.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(unsampled.spans.length, 0);
  for (const bad of [tp.replace(/^00/, "ff"), `${tp}-extra`]) {
    const fresh = await traced(t, { traceparent: bad });
    assert.notEqual(fresh.traceId, "4bf92f3577b34da6a3ce929d0e0e4736", bad);
    assert.equal(fresh.spans[0]?.parentId, undefined, bad);
  }
  const both = await traced(t, { traceparent: tp, "x-b3-traceid": "463ac35c9f6413ad", "x-b3-spanid": "a2fb4a1d1a96d312" });
  assert.equal(both.traceId, "463ac35c9f6413ad");
  assert.equal(both.spans[0]?.parentId, "a2fb4a1d1a96d312");
});

test("single b3 header: id-id-flag, and a lone 0 (or a lone x-b3-sampled: 0) means do not sample", async (t) => {
  const single = await traced(t, { b3: "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90" });
  assert.equal(single.traceId, "80f198ee56343ba864fe8b2a57d3eff7");
  assert.equal(single.spans[0]?.parentId, "e457b5a2e4d86bd1");
  assert.equal((await traced(t, { b3: "80f198ee56343ba8-e457b5a2e4d86bd1-0" })).spans.length, 0);
  assert.equal((await traced(t, { b3: "80f198ee56343ba8-e457b5a2e4d86bd1-d" })).spans.length, 1);
  const denials: Record<string, string>[] = [{ b3: "0" }, { "x-b3-sampled": "0" }];
  for (const deny of denials) {
    const { traceId, spans } = await traced(t, deny);
    assert.match(String(traceId), HEX32, "a new trace id all the same");
    assert.equal(spans.length, 0, JSON.stringify(deny));
  }
});

// --- end to end through the service ------------------------------------------------------------

test("with incoming B3 headers the reported span is a child of Envoy's span in the same trace", async (t) => {
  const collector = await startCollector(t);
  const tracing = tracingTo(loadConfig({ SERVICE_ID: "1", ZIPKIN_ENDPOINT: collector.endpoint }).zipkinEndpoint);
  const svc = await startService(t, { ZIPKIN_ENDPOINT: collector.endpoint }, { tracing });

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
  await tracing.flush();

  assert.equal(collector.posts.length, 1);
  const post = collector.posts[0]!;
  assert.equal(post.path, "/api/v2/spans");
  assert.match(String(post.contentType), /^application\/json/);
  assert.equal(post.spans.length, 1);
  const s = post.spans[0]!;
  // OpenTelemetry widens a 64-bit trace id to 128 bits; Zipkin stores it as the 64-bit id again.
  assert.equal(s.traceId, "0000000000000000463ac35c9f6413ad");
  assert.equal(zipkinTraceId(s.traceId), "463ac35c9f6413ad");
  assert.equal(s.parentId, "a2fb4a1d1a96d312");
  assert.match(s.id, HEX16);
  assert.notEqual(s.id, "a2fb4a1d1a96d312");
  assert.equal(s.kind, "SERVER");
  assert.equal(s.name, "get /service/:id");
  assert.deepEqual(s.localEndpoint, { serviceName: "service1" });
  assert.equal(s.tags["network.peer.address"], "127.0.0.1");
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
  const tracing = tracingTo(collector.endpoint);
  const svc = await startService(t, {}, { tracing });
  const a = await get(svc.port, "/service/1");
  const b = await get(svc.port, "/service/1");
  const traceA = String(a.headers["x-b3-traceid"]);
  assert.match(traceA, HEX32);
  assert.notEqual(traceA, b.headers["x-b3-traceid"]);
  await tracing.flush();
  const spans = collector.spans();
  assert.equal(spans.length, 2);
  const spanA = spans.find((s) => s.traceId === traceA);
  assert.ok(spanA, "span for the first request reported under the returned trace id");
  assert.equal(spanA.parentId, undefined);
  assert.equal("parentId" in spanA, false);
});

test("x-b3-sampled: 0 is not reported; a sampled request after it is", async (t) => {
  const collector = await startCollector(t);
  const tracing = tracingTo(collector.endpoint);
  const svc = await startService(t, {}, { tracing });
  const headers = { "x-b3-traceid": "1111111111111111", "x-b3-spanid": "2222222222222222" };
  const unsampled = await get(svc.port, "/service/1", { ...headers, "x-b3-sampled": "0" });
  assert.equal(unsampled.status, 200);
  assert.equal(unsampled.headers["x-b3-traceid"], "1111111111111111");
  await get(svc.port, "/service/1", { "x-b3-traceid": "3333333333333333", "x-b3-spanid": "4444444444444444", "x-b3-sampled": "1" });
  await tracing.flush();
  assert.deepEqual(
    collector.spans().map((s) => zipkinTraceId(s.traceId)),
    ["3333333333333333"],
  );
});

test("traceparent context is joined; 404 and 405 spans carry their status and route", async (t) => {
  const collector = await startCollector(t);
  const tracing = tracingTo(collector.endpoint);
  const svc = await startService(t, {}, { tracing });
  await get(svc.port, "/service/7", { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" });
  await tracing.flush();
  const [s] = collector.spans();
  assert.ok(s);
  assert.equal(s.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(s.parentId, "00f067aa0ba902b7");
  assert.equal(s.tags["http.status_code"], "404");
  assert.equal(s.tags["http.path"], "/service/7");
  assert.equal(s.name, "get /service/:id");
});

test("the default tracing comes from ZIPKIN_ENDPOINT and flushes on its own (nobody calls flush)", async (t) => {
  const collector = await startCollector(t);
  const svc = await startService(t, { ZIPKIN_ENDPOINT: collector.endpoint });
  const res = await get(svc.port, "/service/1");
  const spans = await collector.waitForSpans(1);
  assert.equal(spans[0]?.traceId, res.headers["x-b3-traceid"]);
});

test("a partial batch leaves flushIntervalMs after its first span, in one POST", async (t) => {
  const collector = await startCollector(t);
  const tracing = new Tracing({ endpoint: collector.endpoint, serviceName: "service1", logger: silentLogger, flushIntervalMs: 300 });
  const svc = await startService(t, {}, { tracing });
  const sent = performance.now();
  await get(svc.port, "/service/1");
  await get(svc.port, "/service/1");
  await collector.waitForSpans(2);
  assert.ok(performance.now() - sent >= 290, "not before the interval");
  assert.deepEqual(
    collector.posts.map((p) => p.spans.length),
    [2],
  );
});

test("unset ZIPKIN_ENDPOINT: nothing is recorded or sent, but trace ids still flow", async (t) => {
  const tracing = tracingTo(loadConfig({ SERVICE_ID: "1" }).zipkinEndpoint);
  const svc = await startService(t, {}, { tracing });
  const res = await get(svc.port, "/service/1", {
    "x-b3-traceid": "463ac35c9f6413ad",
    "x-b3-spanid": "a2fb4a1d1a96d312",
    "x-b3-sampled": "1",
  });
  assert.equal(res.headers["x-b3-traceid"], "463ac35c9f6413ad");
  assert.equal(tracing.stats, undefined);
});

// --- export failures -------------------------------------------------------------------------------

test("a failing collector is logged, counted, and never throws", async (t) => {
  const collector = await startCollector(t, { status: 500 });
  const lines: string[] = [];
  const tracing = tracingTo(collector.endpoint, createLogger({ write: (l) => lines.push(l) }));
  const svc = await startService(t, {}, { tracing });
  assert.equal((await get(svc.port, "/service/1")).status, 200);
  await tracing.flush();
  assert.equal(tracing.stats?.failed, 1);
  assert.equal(tracing.stats?.sent, 0);
  const warning = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "zipkin report failed");
  assert.ok(warning, `no warning in ${lines.join("")}`);
  assert.equal(warning.level, "warn");
  assert.match(JSON.stringify(warning.error), /500/);
});

test("an unreachable collector does not break requests; its failures are logged once per 10 s", async (t) => {
  // Find a port nobody listens on: bind one, then close it.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const deadPort = probe.address() as AddressInfo;
  await closeServer(probe);
  const lines: string[] = [];
  const logger = createLogger({ write: (l) => lines.push(l) });
  const tracing = tracingTo(`http://127.0.0.1:${deadPort.port}/api/v2/spans`, logger);
  const svc = await startService(t, {}, { tracing, logger });
  for (let i = 0; i < 5; i++) {
    assert.equal((await get(svc.port, "/service/1")).status, 200);
    await tracing.flush();
  }
  assert.equal(tracing.stats?.failed, 5);
  assert.equal(lines.filter((l) => l.includes('"zipkin report failed"')).length, 1);
  assert.equal((await get(svc.port, "/healthz")).status, 200);
});

test("close() gives up on a collector that never answers at its own timeout", async (t) => {
  const collector = await startCollector(t, { hang: true });
  const lines: string[] = [];
  const tracing = tracingTo(collector.endpoint, createLogger({ write: (l) => lines.push(l) }));
  const svc = await startService(t, {}, { tracing });
  await get(svc.port, "/service/1");
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  t.onTestFinished(() => {
    vi.useRealTimers();
  });
  let closed = false;
  const closing = tracing.close(200).then(() => (closed = true));
  await collector.waitForHeld(1); // the POST is at the collector, which holds it
  vi.advanceTimersByTime(199);
  await Promise.resolve();
  assert.equal(closed, false, "close() still waits for the POST before its timeout");
  vi.advanceTimersByTime(1);
  await closing;
  const warning = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "zipkin flush on shutdown timed out");
  assert.equal(warning?.spans_in_flight, 1);
});

test("health checks and metrics scrapes are never traced, with or without trace headers; other routes are", async (t) => {
  const collector = await startCollector(t);
  const tracing = tracingTo(collector.endpoint);
  const svc = await startService(t, {}, { tracing });
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
  await tracing.flush();
  assert.deepEqual(
    collector
      .spans()
      .map((s) => s.name)
      .sort(),
    ["get /service/:id", "get unmatched"],
  );
});
