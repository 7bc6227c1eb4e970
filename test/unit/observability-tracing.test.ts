// The tracing check's judgement of a Zipkin trace, on spans shaped as Envoy 1.40 and the service
// report them (recorded from the real stack), for requests with and without a trace context.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { evaluateTrace, newIncomingContext, type TraceExpectation } from "../../harness/observability/tracing-check.ts";
import type { ZipkinSpan } from "../../harness/observability/zipkin.ts";

const TRACE = "c44d83d57835d6b71a5898caa8770e56";
const REQUEST_ID = "c057d8e0-819c-953a-99a3-bfcec5fbaef2";

const envoyRoot: ZipkinSpan = {
  traceId: TRACE,
  id: "1a5898caa8770e56",
  name: "127.0.0.1:32792",
  kind: "SERVER",
  timestamp: 1795620879629531,
  duration: 14086,
  localEndpoint: { serviceName: "front-envoy", ipv4: "172.24.0.6" },
  annotations: [{ timestamp: 1795620879643770, value: "ss" }],
  tags: { "guid:x-request-id": REQUEST_ID, "http.status_code": "200", upstream_cluster: "service1", node_id: "front-envoy" },
  shared: true,
};
const serviceChild: ZipkinSpan = {
  traceId: TRACE,
  id: "33f045955a467ad8",
  parentId: "1a5898caa8770e56",
  name: "get /service/:id",
  kind: "SERVER",
  timestamp: 1795620879633288,
  duration: 11249,
  localEndpoint: { serviceName: "service1", ipv4: "172.24.0.4" },
  tags: { "guid:x-request-id": REQUEST_ID, replica: "c617912c6375", "service.id": "1" },
};
const expectRoot: TraceExpectation = {
  traceId: TRACE,
  envoyServiceName: "front-envoy",
  serviceName: "service1",
  replica: "c617912c6375",
  serviceId: "1",
  requestId: REQUEST_ID,
};

describe("judging a trace", () => {
  it("accepts Envoy's root span with the service's child span (request without context)", () => {
    const e = evaluateTrace([serviceChild, envoyRoot], expectRoot);
    assert.equal(e.complete, true);
    assert.deepEqual(e.problems, []);
  });

  it("accepts Envoy sharing the caller's span (shared_span_context) and the service as its child", () => {
    const ctx = { traceId: "0123456789abcdef0123456789abcdef", spanId: "1111111111111111", parentId: "2222222222222222" };
    const envoy = { ...envoyRoot, traceId: ctx.traceId, id: ctx.spanId, parentId: ctx.parentId };
    const svc = { ...serviceChild, traceId: ctx.traceId, parentId: ctx.spanId };
    assert.deepEqual(evaluateTrace([envoy, svc], { ...expectRoot, traceId: ctx.traceId, incoming: ctx }).problems, []);
    // Envoy making a child of the caller instead (shared_span_context: false) is not what we configured.
    const child = { ...envoy, id: "3333333333333333", parentId: ctx.spanId };
    const e = evaluateTrace([child, { ...svc, parentId: child.id }], { ...expectRoot, traceId: ctx.traceId, incoming: ctx });
    assert.match(
      e.problems.join("\n"),
      /front-envoy's span id is 3333333333333333, expected the caller's x-b3-spanid 1111111111111111 \(shared span context\)/,
    );
    assert.match(e.problems.join("\n"), /parentId is 1111111111111111, expected the caller's x-b3-parentspanid 2222222222222222/);
  });

  it("says Envoy did not trace when only the service's root span exists (tracing disabled)", () => {
    const lonely = { ...serviceChild, parentId: undefined };
    const e = evaluateTrace([lonely], expectRoot);
    assert.equal(e.complete, false);
    assert.match(
      e.problems.join("\n"),
      /has no span from front-envoy \(Envoy did not trace the request; spans: service1:33f045955a467ad8\)/,
    );
    assert.match(e.problems.join("\n"), /service1's span is a root span: no trace context reached the service/);
  });

  it("says Envoy passed the caller's headers through without a span of its own", () => {
    const ctx = newIncomingContext();
    const svc = { ...serviceChild, traceId: ctx.traceId, parentId: ctx.spanId };
    const e = evaluateTrace([svc], { ...expectRoot, traceId: ctx.traceId, incoming: ctx });
    assert.match(e.problems.join("\n"), /child of the caller's span .*: Envoy passed the headers through without a span of its own/);
  });

  it("names a wrong parent, a reused span id, a wrong replica tag and a foreign request id", () => {
    const e = evaluateTrace(
      [
        envoyRoot,
        {
          ...serviceChild,
          parentId: "9999999999999999",
          tags: { ...serviceChild.tags, replica: "someone-else", "guid:x-request-id": "other" },
        },
      ],
      expectRoot,
    );
    const text = e.problems.join("\n");
    assert.match(text, /service1's span 33f045955a467ad8 has parentId 9999999999999999, expected front-envoy's span id 1a5898caa8770e56/);
    assert.match(text, /tag replica=someone-else, but replica c617912c6375 answered/);
    assert.match(text, /service1's span has x-request-id other, the client saw c057d8e0/);
    const reused = evaluateTrace([envoyRoot, { ...serviceChild, id: envoyRoot.id, parentId: envoyRoot.id }], expectRoot);
    assert.match(reused.problems.join("\n"), /reuses front-envoy's span id/);
  });

  it("reports an empty trace and spans of another trace id", () => {
    assert.deepEqual(evaluateTrace([], expectRoot).problems, [`Zipkin has no trace ${TRACE}`]);
    const e = evaluateTrace([envoyRoot, { ...serviceChild, traceId: "00000000000000000000000000000001" }], expectRoot);
    assert.match(e.problems.join("\n"), /span 33f045955a467ad8 \(service1\) has trace id 00000000000000000000000000000001/);
  });

  it("makes fresh B3 contexts: 128-bit trace id, 64-bit span ids, never zero", () => {
    const c = newIncomingContext();
    assert.match(c.traceId, /^[0-9a-f]{32}$/);
    assert.match(c.spanId, /^[0-9a-f]{16}$/);
    assert.notEqual(c.spanId, c.parentId);
  });
});
