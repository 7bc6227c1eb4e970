// The service's HTTP contract, in-process: response shape and key order, 404/405/HEAD, health,
// and Prometheus metrics labelled by route template.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { test } from "vitest";
import { closeServer } from "../support/servers.ts";
import { pollUntil } from "../../harness/lib/poll.ts";
import { createServer, formatTime, type ServiceOptions } from "../../services/src/app.ts";
import { loadConfig } from "../../services/src/config.ts";
import { firstExternalIPv4 } from "../../services/src/identity.ts";
import { Lifecycle } from "../../services/src/lifecycle.ts";
import { silentLogger } from "../../services/src/logging.ts";

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const IDENTITY = { hostname: "fc4a73df5ae8", ip: "172.20.0.5" };
const FIXED_NOW = () => new Date("2021-10-22T18:05:12.987Z");

async function start(
  t: { onTestFinished(fn: () => unknown): void },
  env: Record<string, string> = {},
  extra: Partial<ServiceOptions> = {},
): Promise<{ port: number }> {
  const server = createServer({
    config: loadConfig({ SERVICE_ID: "1", ...env }),
    identity: IDENTITY,
    logger: silentLogger,
    defaultMetrics: true,
    ...extra,
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.onTestFinished(() => closeServer(server));
  return { port: (server.address() as AddressInfo).port };
}

function request(
  target: { port: number },
  method: string,
  path: string,
  headers: Record<string, string> = {},
  agent: http.Agent | false = false,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: target.port, method, path, headers, agent }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Sum of the samples of `name` whose labels include all of `labels` (0 when none). */
function sample(metricsText: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of metricsText.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const pair of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[3]);
  }
  return total;
}

test("GET /service/:id answers the exact JSON shape, key order and UTC time format", async (t) => {
  const target = await start(t, {}, { now: FIXED_NOW });
  const res = await request(target, "GET", "/service/1");
  assert.equal(res.status, 200);
  assert.match(String(res.headers["content-type"]), /^application\/json\b/);
  assert.equal(res.body, '{"hostname":"fc4a73df5ae8","ip":"172.20.0.5","serviceid":"1","success":true,"time":"2021-10-22 18:05:12"}');
  assert.deepEqual(Object.keys(JSON.parse(res.body) as object), ["hostname", "ip", "serviceid", "success", "time"]);
  assert.equal(res.headers["content-length"], String(Buffer.byteLength(res.body)));
});

test("formatTime renders UTC as YYYY-MM-DD HH:MM:SS whatever the local zone", () => {
  assert.equal(formatTime(new Date("2021-01-02T03:04:05.999Z")), "2021-01-02 03:04:05");
  assert.equal(formatTime(new Date(Date.UTC(1999, 11, 31, 23, 59, 59))), "1999-12-31 23:59:59");
});

test("without an injected identity it reports os.hostname(), the first external IPv4 and the current time", async (t) => {
  const target = await start(t, {}, { identity: undefined });
  const before = Date.now();
  const res = await request(target, "GET", "/service/1");
  const body = JSON.parse(res.body) as { hostname: string; ip: string; time: string };
  assert.equal(body.hostname, os.hostname());
  assert.equal(body.ip, firstExternalIPv4());
  assert.match(body.time, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  const after = Date.now();
  // `time` has whole seconds: it lies between the second the request was sent in and the answer.
  const reported = Date.parse(`${body.time.replace(" ", "T")}Z`);
  assert.ok(reported >= Math.floor(before / 1000) * 1000 && reported <= after, `time ${body.time} is not now`);
});

test("REPORTED_HOSTNAME overrides the reported hostname (test-only lying replica)", async (t) => {
  const target = await start(t, { REPORTED_HOSTNAME: "not-me-at-all" }, { identity: undefined });
  const body = JSON.parse((await request(target, "GET", "/service/1")).body) as { hostname: string };
  assert.equal(body.hostname, "not-me-at-all");
  const metrics = (await request(target, "GET", "/metrics")).body;
  assert.ok(sample(metrics, "http_requests_total", { replica: "not-me-at-all" }) >= 1);
});

test("FAIL_EVERY answers every Nth request with 500 and success=false, still naming the replica (test-only failing replica)", async (t) => {
  const target = await start(t, { FAIL_EVERY: "3" });
  const answers = [];
  for (let i = 0; i < 6; i++) answers.push(await request(target, "GET", "/service/1"));
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 500, 200, 200, 500],
  );
  const failed = JSON.parse(answers[2]?.body ?? "{}") as { hostname: string; success: boolean };
  assert.deepEqual([failed.hostname, failed.success], ["fc4a73df5ae8", false]);
  assert.equal((await request(target, "GET", "/healthz")).status, 200, "health checks are not failed");
});

test("firstExternalIPv4 skips loopback and IPv6, accepts numeric family, falls back to 127.0.0.1", () => {
  const lo = { address: "127.0.0.1", netmask: "255.0.0.0", family: "IPv4", mac: "00:00:00:00:00:00", internal: true, cidr: null };
  const v6 = { address: "fe80::1", netmask: "ffff::", family: "IPv6", mac: "02:42:ac:14:00:05", internal: false, cidr: null, scopeid: 1 };
  const eth0 = { address: "172.20.0.5", netmask: "255.255.0.0", family: "IPv4", mac: "02:42:ac:14:00:05", internal: false, cidr: null };
  const eth1 = { ...eth0, address: "10.0.0.7" };
  type Ifaces = Parameters<typeof firstExternalIPv4>[0];
  assert.equal(firstExternalIPv4({ lo: [lo], eth0: [v6, eth0], eth1: [eth1] } as Ifaces), "172.20.0.5");
  assert.equal(firstExternalIPv4({ lo: [lo], eth0: [{ ...eth0, family: 4 }] } as unknown as Ifaces), "172.20.0.5");
  assert.equal(firstExternalIPv4({ lo: [lo], eth0: [v6] } as Ifaces), "127.0.0.1");
});

test("GET /service/:id for another id is a 404 JSON naming the id this instance serves", async (t) => {
  const target = await start(t);
  const res = await request(target, "GET", "/service/2");
  assert.equal(res.status, 404);
  assert.match(String(res.headers["content-type"]), /^application\/json\b/);
  const body = JSON.parse(res.body) as { success: boolean; error: string; serviceid: string };
  assert.equal(body.success, false);
  assert.equal(body.serviceid, "2");
  assert.match(body.error, /serves service 1\b/);
  // A percent-encoded id is decoded before it is compared and echoed.
  const encoded = JSON.parse((await request(target, "GET", "/service/a%20b")).body) as { serviceid: string };
  assert.equal(encoded.serviceid, "a b");
});

test("unknown routes are 404 JSON, including near misses of known ones", async (t) => {
  const target = await start(t);
  for (const path of ["/", "/nope", "/service", "/service/1/extra", "/healthzz"]) {
    const res = await request(target, "GET", path);
    assert.equal(res.status, 404, path);
    const body = JSON.parse(res.body) as { success: boolean; error: string };
    assert.equal(body.success, false, path);
    assert.match(body.error, /no route/, path);
  }
  // A query string does not change the route.
  assert.equal((await request(target, "GET", "/service/1?x=1")).status, 200);
});

test("a wrong method on a known route is 405 with Allow; on an unknown route it stays 404", async (t) => {
  const target = await start(t);
  for (const [method, path] of [
    ["POST", "/service/1"],
    ["DELETE", "/service/2"],
    ["PUT", "/healthz"],
    ["POST", "/metrics"],
  ] as const) {
    const res = await request(target, method, path);
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.allow, "GET, HEAD", `${method} ${path}`);
    assert.equal((JSON.parse(res.body) as { success: boolean }).success, false);
  }
  assert.equal((await request(target, "POST", "/nope")).status, 404);
});

test("HEAD is allowed where GET is: same status and headers, no body", async (t) => {
  const target = await start(t, {}, { now: FIXED_NOW });
  const get = await request(target, "GET", "/service/1");
  const head = await request(target, "HEAD", "/service/1");
  assert.equal(head.status, 200);
  assert.equal(head.body, "");
  assert.equal(head.headers["content-length"], String(Buffer.byteLength(get.body)));
  assert.equal(head.headers["content-type"], get.headers["content-type"]);
  assert.equal((await request(target, "HEAD", "/healthz")).status, 200);
  assert.equal((await request(target, "HEAD", "/metrics")).status, 200);
  assert.equal((await request(target, "HEAD", "/service/9")).status, 404);
});

test("GET /healthz is 200 ok, and 503 with Connection: close once draining starts", async (t) => {
  const lifecycle = new Lifecycle();
  const target = await start(t, {}, { lifecycle });
  const keepAlive = new http.Agent({ keepAlive: true });
  t.onTestFinished(() => keepAlive.destroy());
  const ok = await request(target, "GET", "/healthz", {}, keepAlive);
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.body), { status: "ok" });
  assert.equal(ok.headers.connection, "keep-alive");
  lifecycle.beginDrain();
  const draining = await request(target, "GET", "/healthz", {}, keepAlive);
  assert.equal(draining.status, 503);
  assert.equal((JSON.parse(draining.body) as { status: string }).status, "shutting down");
  assert.equal(draining.headers.connection, "close");
});

test("x-request-id is echoed, or generated when absent", async (t) => {
  const target = await start(t);
  const echoed = await request(target, "GET", "/service/1", { "x-request-id": "req-123" });
  assert.equal(echoed.headers["x-request-id"], "req-123");
  const generated = await request(target, "GET", "/service/1");
  assert.match(String(generated.headers["x-request-id"]), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
});

test("/metrics counts requests by route template, status and class, with service and replica labels", async (t) => {
  const target = await start(t);
  const before = (await request(target, "GET", "/metrics")).body;
  assert.equal(sample(before, "http_requests_total", { route: "/service/:id" }), 0);

  let okBytes = 0;
  for (let i = 0; i < 3; i++) okBytes += Buffer.byteLength((await request(target, "GET", "/service/1")).body);
  await request(target, "GET", "/service/2");
  await request(target, "GET", "/service/3");
  await request(target, "POST", "/service/1");
  await request(target, "GET", "/no/such/path");

  const res = await request(target, "GET", "/metrics");
  assert.equal(res.status, 200);
  assert.match(String(res.headers["content-type"]), /^text\/plain/);
  const text = res.body;
  const common = { service: "service1", replica: IDENTITY.hostname };
  const svc = { ...common, method: "GET", route: "/service/:id" };
  assert.equal(sample(text, "http_requests_total", { ...svc, status_code: "200", status_class: "2xx" }), 3);
  assert.equal(sample(text, "http_requests_total", { ...svc, status_code: "404", status_class: "4xx" }), 2);
  assert.equal(sample(text, "http_requests_total", { ...common, method: "POST", route: "/service/:id", status_code: "405" }), 1);
  assert.equal(sample(text, "http_requests_total", { ...common, route: "unmatched", status_code: "404" }), 1);
  // The raw path never becomes a label value.
  assert.doesNotMatch(text, /route="\/service\/[0-9]/);
  assert.doesNotMatch(text, /\/no\/such\/path/);
  assert.equal(sample(text, "http_request_duration_seconds_count", { ...svc, status_code: "200" }), 3);
  assert.ok(sample(text, "http_request_duration_seconds_sum", { ...svc, status_code: "200" }) > 0);
  assert.equal(sample(text, "http_request_duration_seconds_bucket", { ...svc, status_code: "200", le: "+Inf" }), 3);
  assert.ok(sample(text, "http_response_size_bytes_total", { ...common, route: "/service/:id" }) >= okBytes);
  assert.ok(sample(text, "http_request_size_bytes_total", { ...common, route: "/service/:id" }) >= 0);
  assert.match(text, /^# TYPE http_request_size_bytes_total counter$/m);
  // prom-client's process metrics carry the default labels too.
  assert.match(text, /^process_cpu_user_seconds_total\{[^}]*service="service1"[^}]*\} /m);
  assert.match(text, /^nodejs_eventloop_lag_seconds\{/m);
});

test("request and response body bytes are counted per route", async (t) => {
  const target = await start(t);
  const body = "x".repeat(1234);
  await new Promise<void>((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: target.port,
        method: "POST",
        path: "/service/1",
        agent: false,
        headers: { "content-length": body.length },
      },
      (res) => {
        res.resume();
        res.on("end", resolve);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
  const head = await request(target, "HEAD", "/healthz");
  assert.equal(head.status, 200);
  const text = (await request(target, "GET", "/metrics")).body;
  assert.equal(sample(text, "http_request_size_bytes_total", { route: "/service/:id" }), 1234);
  // HEAD sends no body: zero bytes for /healthz.
  assert.equal(sample(text, "http_response_size_bytes_total", { route: "/healthz" }), 0);
});

/** The service's RESPONSE_DELAY_MS wait, held until the test releases it. */
function heldDelay() {
  const asked: number[] = [];
  let started!: () => void;
  let release!: () => void;
  const waiting = new Promise<void>((r) => (started = r));
  const released = new Promise<void>((r) => (release = r));
  const sleep = async (ms: number): Promise<void> => {
    asked.push(ms);
    started();
    await released;
  };
  return { asked, waiting, release, sleep };
}

test("RESPONSE_DELAY_MS delays GET /service/:id until the delay has passed", async (t) => {
  const delay = heldDelay();
  const target = await start(t, { RESPONSE_DELAY_MS: "150" }, { sleep: delay.sleep });
  let answered = false;
  const answer = request(target, "GET", "/service/1").then((r) => {
    answered = true;
    return r;
  });
  await delay.waiting;
  assert.deepEqual(delay.asked, [150]);
  // The server still answers other requests meanwhile; the delayed one stays unanswered.
  assert.equal((await request(target, "GET", "/healthz")).status, 200);
  assert.equal(answered, false, "answered before the configured delay");
  delay.release();
  assert.equal((await answer).status, 200);
});

test("without RESPONSE_DELAY_MS nothing waits", async (t) => {
  const delay = heldDelay();
  const target = await start(t, {}, { sleep: delay.sleep });
  assert.equal((await request(target, "GET", "/service/1")).status, 200);
  assert.deepEqual(delay.asked, []);
});

test("a client that disconnects before the answer is counted as 499, not 200", async (t) => {
  const delay = heldDelay();
  const target = await start(t, { RESPONSE_DELAY_MS: "300" }, { sleep: delay.sleep });
  await new Promise<void>((resolve) => {
    const req = http.request({ host: "127.0.0.1", port: target.port, path: "/service/1", agent: false });
    req.on("error", () => resolve());
    req.end();
    // Disconnect once the service is waiting to answer.
    void delay.waiting.then(() => req.destroy());
  });
  // The server counts the request when it sees the connection close.
  const counted = async (): Promise<true | undefined> => {
    const text = (await request(target, "GET", "/metrics")).body;
    return sample(text, "http_requests_total", { route: "/service/:id", status_code: "499" }) === 1 ? true : undefined;
  };
  await pollUntil(counted, { timeoutMs: 10_000, intervalMs: 20, what: "the 499 in /metrics" });
  // Now let the delayed handler run into the closed socket; the next request is served after it.
  delay.release();
  const text = (await request(target, "GET", "/metrics")).body;
  assert.equal(sample(text, "http_requests_total", { route: "/service/:id", status_code: "499" }), 1);
  assert.equal(sample(text, "http_requests_total", { route: "/service/:id", status_code: "200" }), 0);
});
