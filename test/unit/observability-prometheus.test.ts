// Parsing Prometheus' and Zipkin's API answers: good ones become typed values, bad ones are
// reported with the field that is wrong; the clients against local fake servers.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, it } from "vitest";
import { PrometheusClient, parseQueryResponse, parseSampleValue, parseTargetsResponse } from "../../harness/observability/prometheus.ts";
import { ZipkinClient, parseTrace } from "../../harness/observability/zipkin.ts";

describe("Prometheus API answers", () => {
  it("parses instant vectors and scalars, including NaN and infinities", () => {
    const v = parseQueryResponse(
      {
        status: "success",
        data: {
          resultType: "vector",
          result: [
            { metric: { replica: "a" }, value: [1700000000.5, "42"] },
            { metric: {}, value: [1, "NaN"] },
          ],
        },
      },
      "q",
    );
    assert.deepEqual(v[0], { labels: { replica: "a" }, value: 42, timestamp: 1700000000.5 });
    assert.ok(Number.isNaN(v[1]?.value));
    assert.deepEqual(
      parseQueryResponse({ status: "success", data: { resultType: "scalar", result: [2, "+Inf"] } }, "q")[0]?.value,
      Infinity,
    );
    assert.equal(parseSampleValue("-Inf"), -Infinity);
    assert.throws(() => parseSampleValue("forty"), /not a sample value/);
  });

  it("reports Prometheus' own errors and malformed answers with the field", () => {
    assert.throws(
      () => parseQueryResponse({ status: "error", errorType: "bad_data", error: "parse error at char 5" }, "query up{"),
      /query up\{: Prometheus says bad_data: parse error at char 5/,
    );
    assert.throws(
      () => parseQueryResponse({ status: "success", data: { resultType: "vector", result: [{ metric: {}, value: [1, 2] }] } }, "q"),
      /q: unexpected answer: data\.result\.0\.value\.1: /,
    );
    assert.throws(
      () => parseQueryResponse({ status: "success", data: { resultType: "vector", result: [{ metric: {}, value: [1, "x"] }] } }, "q"),
      /data\.result\.0\.value\.1: not a sample value: 'x'/,
    );
    assert.throws(() => parseQueryResponse({ status: "ok" }, "q"), /q: unexpected answer: status/);
    assert.throws(
      () => parseQueryResponse({ status: "success", data: { resultType: "matrix", result: [] } }, "q"),
      /expected an instant vector or scalar, got a matrix/,
    );
  });

  it("parses active targets: never-scraped targets have no lastScrape; the instance is split", () => {
    const targets = parseTargetsResponse({
      status: "success",
      data: {
        activeTargets: [
          {
            labels: { job: "services", instance: "172.20.0.5:8081", compose_service: "service2" },
            discoveredLabels: { __address__: "172.20.0.5:8081" },
            scrapePool: "services",
            scrapeUrl: "http://172.20.0.5:8081/metrics",
            lastError: 'Get "http://172.20.0.5:8081/metrics": dial tcp 172.20.0.5:8081: connect: connection refused',
            lastScrape: "2026-11-25T15:00:00.5Z",
            lastScrapeDuration: 0.001,
            health: "down",
          },
          {
            labels: { job: "envoy", instance: "172.20.0.6:9901" },
            scrapePool: "envoy",
            scrapeUrl: "u",
            lastError: "",
            lastScrape: "0001-01-01T00:00:00Z",
            health: "unknown",
          },
        ],
        droppedTargets: [],
      },
    });
    assert.equal(targets[0]?.host, "172.20.0.5");
    assert.equal(targets[0]?.port, 8081);
    assert.equal(targets[0]?.health, "down");
    assert.equal(targets[0]?.lastScrape?.toISOString(), "2026-11-25T15:00:00.500Z");
    assert.equal(targets[1]?.lastScrape, undefined);
    assert.throws(
      () => parseTargetsResponse({ status: "success", data: { activeTargets: [{ labels: {} }] } }),
      /data\.activeTargets\.0\.scrapePool/,
    );
  });
});

describe("Zipkin API answers", () => {
  it("parses spans and names the span and field that is wrong", () => {
    const spans = parseTrace([{ traceId: "0123456789abcdef0123456789abcdef", id: "1111111111111111", kind: "SERVER", shared: true }], "t");
    assert.equal(spans[0]?.shared, true);
    assert.throws(
      () => parseTrace([{ traceId: "xyz", id: "1111111111111111" }], "GET /api/v2/trace/xyz"),
      /GET \/api\/v2\/trace\/xyz: unexpected answer: 0\.traceId: must be 16 or 32 lower-hex/,
    );
    assert.throws(() => parseTrace([{ traceId: "0123456789abcdef", id: "1111111111111111", kind: "SERVERISH" }], "t"), /0\.kind/);
  });
});

describe("the clients against local fake servers", () => {
  let server: http.Server;
  let base = "";
  let scrapeSeconds = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      res.setHeader("content-type", "application/json");
      if (url.pathname === "/api/v1/targets") {
        res.end(
          JSON.stringify({
            status: "success",
            data: {
              activeTargets: [
                {
                  labels: { job: "services", instance: "10.0.0.1:8080" },
                  scrapePool: "services",
                  scrapeUrl: "u",
                  lastError: "",
                  lastScrape: "2026-01-01T00:00:00Z",
                  health: "up",
                },
              ],
            },
          }),
        );
      } else if (url.pathname === "/api/v1/query") {
        const q = url.searchParams.get("query") ?? "";
        if (q.startsWith("timestamp(up")) {
          // Every call moves the scrape forward by a second.
          scrapeSeconds += 1;
          res.end(
            JSON.stringify({
              status: "success",
              data: {
                resultType: "vector",
                result: [{ metric: { job: "services", instance: "10.0.0.1:8080" }, value: [0, String(1000 + scrapeSeconds)] }],
              },
            }),
          );
        } else {
          res.statusCode = 400;
          res.end(JSON.stringify({ status: "error", errorType: "bad_data", error: `cannot parse ${q}` }));
        }
      } else if (url.pathname.startsWith("/api/v2/trace/")) {
        res.statusCode = 404;
        res.end("trace not found");
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("waits for a scrape after a given time, judged by up's sample timestamp", async () => {
    const prom = new PrometheusClient(base);
    const since = new Date((1000 + scrapeSeconds + 3) * 1000);
    const got = await prom.waitForScrapeAfter(since, { jobs: ["services"], timeoutMs: 5000, intervalMs: 1 });
    assert.ok(got.oldest.getTime() >= since.getTime());
    await assert.rejects(
      prom.waitForScrapeAfter(new Date(9e12), { jobs: ["services"], timeoutMs: 50, intervalMs: 1 }),
      /did not scrape after .* services\/10\.0\.0\.1:8080/,
    );
  });

  it("passes Prometheus' error for a bad query through, and treats Zipkin's 404 as no trace", async () => {
    await assert.rejects(new PrometheusClient(base).query("up{"), /Prometheus says bad_data: cannot parse up\{/);
    assert.deepEqual(await new ZipkinClient(base).trace("0123456789abcdef"), []);
    assert.equal(await new PrometheusClient(base).ready(), false);
    await assert.rejects(new PrometheusClient("http://127.0.0.1:1").query("up"), /Prometheus GET http:\/\/127\.0\.0\.1:1\/api\/v1\/query/);
  });
});
