// The bytes check without a stack: Prometheus' byte counts (the report panel) against what the
// verifier counted, passing when they agree to the byte and naming the culprit when they do not;
// the verifier's own counting (runLoad's sockets and bodies) against a local server's sockets;
// and the terminal's bytes table.
import { strict as assert } from "node:assert";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { describe, it } from "vitest";
import { bytesCheck, type VerifierBytes } from "../../harness/observability/bytes-check.ts";
import type { ObservabilityPanel } from "../../harness/observability/report.ts";
import { bytesOfLoads, runLoad } from "../../harness/verify/load.ts";
import { formatReport } from "../../harness/verify/report.ts";
import { sampleReport, sampleService } from "../support/verify-report-fixtures.ts";

const rate = (n: number) => n / 10;
const b = (inBytes: number | null, outBytes: number | null) => ({
  in: inBytes,
  out: outBytes,
  inPerSecond: inBytes === null ? null : rate(inBytes),
  outPerSecond: outBytes === null ? null : rate(outBytes),
});

/** Prometheus' view over a 10 s window of a run that sent to service1 (a1, a2) and service2 (c1). */
function panel(): ObservabilityPanel {
  const row = { requests: 0, requestsPerSecond: 0, errorRatio: null, latency: { p50: null, p90: null, p99: null }, statusClasses: {} };
  return {
    window: "10s",
    generatedAt: "2026-01-01T00:00:10.000Z",
    services: [
      {
        service: "service1",
        ...row,
        bytes: b(0, 3000),
        replicas: [
          { replica: "a1", ...row, bytes: b(0, 1000) },
          { replica: "a2", ...row, bytes: b(0, 2000) },
        ],
      },
      { service: "service2", ...row, bytes: b(0, 500), replicas: [{ replica: "c1", ...row, bytes: b(0, 500) }] },
    ],
    envoy: {
      cpuPercent: null,
      memoryAllocatedBytes: null,
      downstreamConnections: null,
      requestsPerSecond: null,
      bytes: {
        listener: b(9000, 12_000),
        clusters: [
          { cluster: "service1", ...b(8000, 11_000) },
          { cluster: "service2", ...b(1500, 2500) },
        ],
      },
    },
  };
}

function sent(): VerifierBytes[] {
  return [
    { service: "service1", wire: { sent: 6000, received: 9000 }, bodySent: 0, bodyReceivedPerReplica: { a1: 1000, a2: 2000 } },
    { service: "service2", wire: { sent: 3000, received: 3000 }, bodySent: 0, bodyReceivedPerReplica: { c1: 500 } },
  ];
}

describe("bytes check", () => {
  it("passes when Envoy's listener and every replica agree with the verifier to the byte", () => {
    const results = bytesCheck(panel(), sent());
    assert.deepEqual(
      results.map((r) => [r.name, r.service, r.passed]),
      [
        ["bytes", "service1", true],
        ["bytes", "service2", true],
      ],
    );
    assert.match(results[0]!.detail, /Envoy's listener took in 9000 B and sent out 12000 B \(2 services together\)/);
    assert.match(results[0]!.detail, /service1's replicas sent 3000 B of bodies \(a1=1000 a2=2000\)/);
    assert.equal(results[0]!.metrics?.envoy_listener_in_bytes_per_s, 900);
    assert.equal(results[0]!.metrics?.["replica:a2:out_bytes"], 2000);
  });

  it("fails on Envoy's listener when it carried bytes the verifier did not send (or missed some)", () => {
    const p = panel();
    p.envoy.bytes!.listener.in = 9100;
    const [r1, r2] = bytesCheck(p, sent());
    assert.equal(r1!.passed, false);
    assert.equal(r2!.passed, false, "the listener is shared: every service's verdict says so");
    assert.match(r1!.detail, /Envoy's listener, bytes in \(2 services together\): Prometheus counts 9100 B, the verifier sent 9000 B/);
  });

  it("names the replica whose response bytes differ from what the verifier received from it", () => {
    const p = panel();
    p.services[0]!.replicas[1]!.bytes = b(0, 1999);
    const [r1, r2] = bytesCheck(p, sent());
    assert.equal(r1!.passed, false);
    assert.match(r1!.detail, /replica a2, response body bytes out: Prometheus counts 1999 B, the verifier received 2000 B/);
    assert.equal(r2!.passed, true);
  });

  it("names a replica that answered but has no byte series, and one that counted bytes the verifier never got", () => {
    const p = panel();
    p.services[0]!.replicas = [{ ...p.services[0]!.replicas[0]! }, { ...p.services[0]!.replicas[1]!, replica: "zz9" }];
    const [r1] = bytesCheck(p, sent());
    assert.equal(r1!.passed, false);
    assert.match(r1!.detail, /replica a2, response body bytes out: Prometheus has no data \(the verifier received 2000 B\)/);
    assert.match(r1!.detail, /replica zz9, response body bytes out: Prometheus counts 2000 B, the verifier received 0 B/);
  });

  it("fails when Envoy's cluster received fewer bytes than the bodies that came through it, or has none", () => {
    const p = panel();
    p.envoy.bytes!.clusters[0]!.in = 2999;
    p.envoy.bytes!.clusters.pop();
    const [r1, r2] = bytesCheck(p, sent());
    assert.match(r1!.detail, /Envoy cluster service1: received 2999 B from the replicas, less than the 3000 B of bodies/);
    assert.match(r2!.detail, /Envoy cluster service2: Prometheus has no upstream byte counts/);
  });

  it("fails every service when there is no panel or the panel has no bytes (a report from before they existed)", () => {
    assert.deepEqual(
      bytesCheck(null, sent()).map((r) => r.passed),
      [false, false],
    );
    const p = panel();
    delete p.envoy.bytes;
    for (const s of p.services) delete s.bytes;
    const [r1] = bytesCheck(p, sent());
    assert.equal(r1!.passed, false);
    assert.match(r1!.detail, /Envoy's listener, bytes in \(2 services together\): Prometheus has no data/);
    assert.match(r1!.detail, /request body bytes in: Prometheus has no data/);
  });

  it("a tolerance allows that many bytes of difference per comparison", () => {
    const p = panel();
    p.envoy.bytes!.listener.out = 12_010;
    assert.equal(bytesCheck(p, sent())[0]!.passed, false);
    assert.equal(bytesCheck(p, sent(), { tolerance: 10 })[0]!.passed, true);
  });
});

describe("the verifier's own byte counts", () => {
  it("runLoad's socket counts equal the server's, and body bytes are tallied per replica", async () => {
    const serverSockets: Socket[] = [];
    const server = http.createServer((req, res) => {
      const body = JSON.stringify({
        hostname: req.url === "/service/1" ? "h1" : "h2",
        ip: "10.0.0.1",
        serviceid: "1",
        success: true,
        time: "2026-01-01 00:00:00",
      });
      res.setHeader("content-type", "application/json");
      res.end(body);
    });
    server.on("connection", (s: Socket) => serverSockets.push(s));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const load = await runLoad({
        listenerUrl: url,
        path: "/service/1",
        requests: 50,
        concurrency: 4,
        connections: 4,
        expectedServiceId: "1",
      });
      const single = await runLoad({
        listenerUrl: url,
        path: "/service/1",
        requests: 7,
        concurrency: 1,
        connections: 1,
        expectedServiceId: "1",
      });
      // The server's sockets are closed too once the pools closed theirs: wait on that event.
      await Promise.all(serverSockets.map((s) => (s.closed ? undefined : new Promise((resolve) => s.once("close", resolve)))));
      const serverRead = serverSockets.reduce((n, s) => n + s.bytesRead, 0);
      const serverWritten = serverSockets.reduce((n, s) => n + s.bytesWritten, 0);
      const bytes = bytesOfLoads(load, single);
      assert.ok(bytes.wireSent > 57 * 30, `a request line and headers per request: ${bytes.wireSent}`);
      assert.equal(bytes.wireSent, serverRead);
      assert.equal(bytes.wireReceived, serverWritten);
      const bodyLength = Buffer.byteLength(
        JSON.stringify({ hostname: "h1", ip: "10.0.0.1", serviceid: "1", success: true, time: "2026-01-01 00:00:00" }),
      );
      assert.deepEqual(bytes.bodyReceivedPerReplica, { h1: 57 * bodyLength });
      assert.equal(bytes.bodySent, 0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("terminal summary", () => {
  it("shows bytes and bandwidth from Prometheus for Envoy's listener, each cluster and each service", () => {
    const text = formatReport(sampleReport([sampleService("service1", true)], { observability: panel() }));
    assert.match(text, /bytes and bandwidth over 10s \(Prometheus\):/);
    assert.match(text, /Envoy listener \(from\/to clients\)\s+8\.8 KiB\s+900 B\/s\s+11\.7 KiB\s+1\.2 KiB\/s/);
    assert.match(text, /Envoy cluster service2 \(from\/to replicas\)\s+1\.5 KiB\s+150 B\/s\s+2\.4 KiB\s+250 B\/s/);
    assert.match(text, /service1 replicas \(bodies\)\s+0 B\s+0 B\/s\s+2\.9 KiB\s+300 B\/s/);
    assert.doesNotMatch(formatReport(sampleReport([sampleService("service1", true)])), /bytes and bandwidth/);
  });
});
