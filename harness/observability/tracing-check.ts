// The `tracing` check: requests through Envoy with and without a trace context; Zipkin must hold
// Envoy's and the service's spans of the trace the client saw, correctly parented (docs/observability.md).
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { z } from "zod";
import { errorMessage, formatIssues } from "../lib/errors.ts";
import { type HttpResponse, request } from "../lib/http.ts";
import { poll } from "../lib/poll.ts";
import type { ObservabilityCheckResult } from "./types.ts";
import type { ZipkinClient, ZipkinSpan } from "./zipkin.ts";

export type TraceKind = "new" | "b3";
export const TRACE_KINDS: readonly TraceKind[] = ["new", "b3"];

export interface IncomingContext {
  traceId: string;
  spanId: string;
  parentId: string;
}

/** What the client saw of one traced request. */
export interface TracedRequest {
  kind: TraceKind;
  path: string;
  /** The context the client sent (kind "b3"). */
  sent?: IncomingContext;
  status: number;
  /** x-b3-traceid of the response. */
  responseTraceId: string | undefined;
  /** x-request-id of the response. */
  requestId: string | undefined;
  /** The replica that answered (body.hostname). */
  hostname: string | undefined;
  /** performance.now() when the answer was complete. */
  answeredAt: number;
  /** Why the answer is unusable, if it is. */
  error?: string;
}

export interface TraceExpectation {
  /** The trace id the spans must carry. */
  traceId: string;
  envoyServiceName: string;
  serviceName: string;
  /** The replica that answered: the service span's `replica` tag. */
  replica?: string;
  /** The service id: the service span's `service.id` tag. */
  serviceId?: string;
  requestId?: string;
  /** The caller's context, when it sent one. */
  incoming?: IncomingContext;
}

export interface TraceEvaluation {
  /** Envoy's span and the service's span are both there. */
  complete: boolean;
  /** Empty when the trace is right. */
  problems: string[];
  envoySpan?: ZipkinSpan;
  serviceSpan?: ZipkinSpan;
}

const hexId = (bytes: 8 | 16): string => {
  for (;;) {
    const id = randomBytes(bytes).toString("hex");
    if (!/^0+$/.test(id)) return id;
  }
};

export function newIncomingContext(): IncomingContext {
  return { traceId: hexId(16), spanId: hexId(8), parentId: hexId(8) };
}

const serviceOf = (s: ZipkinSpan): string | undefined => s.localEndpoint?.serviceName;

/** Judges one trace's spans against what the client saw (pure). */
export function evaluateTrace(spans: readonly ZipkinSpan[], exp: TraceExpectation): TraceEvaluation {
  const problems: string[] = [];
  const traceId = exp.traceId.toLowerCase();
  const envoySpans = spans.filter((s) => serviceOf(s) === exp.envoyServiceName);
  const serviceSpans = spans.filter((s) => serviceOf(s) === exp.serviceName);
  const envoySpan = envoySpans[0];
  const serviceSpan = serviceSpans[0];
  const complete = envoySpan !== undefined && serviceSpan !== undefined;
  if (spans.length === 0) {
    return { complete, problems: [`Zipkin has no trace ${traceId}`] };
  }
  for (const s of spans) {
    if (s.traceId !== traceId) problems.push(`span ${s.id} (${serviceOf(s) ?? "?"}) has trace id ${s.traceId}, not ${traceId}`);
  }
  const present = spans.map((s) => `${serviceOf(s) ?? "?"}:${s.id}${s.parentId ? `<-${s.parentId}` : ""}`).join(", ");
  if (!envoySpan)
    problems.push(`trace ${traceId} has no span from ${exp.envoyServiceName} (Envoy did not trace the request; spans: ${present})`);
  if (!serviceSpan)
    problems.push(`trace ${traceId} has no span from ${exp.serviceName} (the service did not continue the trace; spans: ${present})`);
  if (envoySpans.length > 1) problems.push(`trace ${traceId} has ${envoySpans.length} spans from ${exp.envoyServiceName}, expected one`);
  if (serviceSpans.length > 1) problems.push(`trace ${traceId} has ${serviceSpans.length} spans from ${exp.serviceName}, expected one`);

  if (envoySpan) {
    if (envoySpan.kind !== "SERVER")
      problems.push(`${exp.envoyServiceName}'s span ${envoySpan.id} has kind ${envoySpan.kind ?? "(none)"}, expected SERVER`);
    if (exp.incoming) {
      // shared_span_context: Envoy's server span is the caller's span.
      if (envoySpan.id !== exp.incoming.spanId) {
        problems.push(
          `${exp.envoyServiceName}'s span id is ${envoySpan.id}, expected the caller's x-b3-spanid ${exp.incoming.spanId} (shared span context)`,
        );
      }
      if (envoySpan.parentId !== exp.incoming.parentId) {
        problems.push(
          `${exp.envoyServiceName}'s span parentId is ${envoySpan.parentId ?? "(none)"}, expected the caller's x-b3-parentspanid ${exp.incoming.parentId}`,
        );
      }
    } else if (envoySpan.parentId !== undefined) {
      problems.push(`${exp.envoyServiceName}'s span has parentId ${envoySpan.parentId}, expected none: it starts the trace`);
    }
  }
  if (serviceSpan) {
    if (serviceSpan.kind !== "SERVER")
      problems.push(`${exp.serviceName}'s span ${serviceSpan.id} has kind ${serviceSpan.kind ?? "(none)"}, expected SERVER`);
    if (envoySpan) {
      if (serviceSpan.parentId !== envoySpan.id) {
        problems.push(
          `${exp.serviceName}'s span ${serviceSpan.id} has parentId ${serviceSpan.parentId ?? "(none)"}, expected ${exp.envoyServiceName}'s span id ${envoySpan.id}`,
        );
      }
      if (serviceSpan.id === envoySpan.id)
        problems.push(`${exp.serviceName}'s span reuses ${exp.envoyServiceName}'s span id ${envoySpan.id}; it must be a child span`);
    } else if (exp.incoming && serviceSpan.parentId === exp.incoming.spanId) {
      problems.push(
        `${exp.serviceName}'s span is a child of the caller's span ${exp.incoming.spanId}: Envoy passed the headers through without a span of its own`,
      );
    } else if (!exp.incoming && serviceSpan.parentId === undefined) {
      problems.push(`${exp.serviceName}'s span is a root span: no trace context reached the service`);
    }
    const tags = serviceSpan.tags ?? {};
    if (exp.replica !== undefined && tags.replica !== exp.replica) {
      problems.push(`${exp.serviceName}'s span has tag replica=${tags.replica ?? "(none)"}, but replica ${exp.replica} answered`);
    }
    if (exp.serviceId !== undefined && tags["service.id"] !== exp.serviceId) {
      problems.push(`${exp.serviceName}'s span has tag service.id=${tags["service.id"] ?? "(none)"}, expected ${exp.serviceId}`);
    }
  }
  if (exp.requestId !== undefined) {
    for (const s of [envoySpan, serviceSpan]) {
      const tag = s?.tags?.["guid:x-request-id"];
      if (s && tag !== undefined && tag !== exp.requestId) {
        problems.push(`${serviceOf(s)}'s span has x-request-id ${tag}, the client saw ${exp.requestId}`);
      }
    }
    if (envoySpan && envoySpan.tags?.["guid:x-request-id"] === undefined) {
      problems.push(`${exp.envoyServiceName}'s span has no guid:x-request-id tag`);
    }
  }
  return { complete, problems, ...(envoySpan && { envoySpan }), ...(serviceSpan && { serviceSpan }) };
}

const answerSchema = z.object({ hostname: z.string(), serviceid: z.string() });

/**
 * Sends one GET through Envoy, with a fresh B3 context (kind "b3") or no trace ids (kind "new").
 * Both ask for the trace to be sampled, so the check works whatever share of requests Envoy traces
 * on its own (tracing.sampling, down to 0): kind "new" sends a lone `x-b3-sampled: 1` (B3's
 * sampling-only form; Envoy still starts the trace ids). x-envoy-force-trace would not do: Envoy
 * honours it only from internal addresses.
 */
export async function sendTracedRequest(listenerUrl: string, path: string, kind: TraceKind, timeoutMs = 10_000): Promise<TracedRequest> {
  const headers: Record<string, string> = { accept: "application/json", "x-b3-sampled": "1" };
  let sent: IncomingContext | undefined;
  if (kind === "b3") {
    sent = newIncomingContext();
    Object.assign(headers, {
      "x-b3-traceid": sent.traceId,
      "x-b3-spanid": sent.spanId,
      "x-b3-parentspanid": sent.parentId,
    });
  }
  const base = { kind, path, ...(sent && { sent }) };
  let res: HttpResponse;
  try {
    res = await request("GET", new URL(path, listenerUrl), { headers, timeoutMs });
  } catch (err) {
    return {
      ...base,
      status: 0,
      responseTraceId: undefined,
      requestId: undefined,
      hostname: undefined,
      answeredAt: performance.now(),
      error: errorMessage(err),
    };
  }
  const text = res.text;
  const answeredAt = performance.now();
  const header = (name: string): string | undefined => {
    const v = res.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const out: TracedRequest = {
    ...base,
    status: res.status,
    responseTraceId: header("x-b3-traceid")?.toLowerCase(),
    requestId: header("x-request-id"),
    hostname: undefined,
    answeredAt,
  };
  if (res.status !== 200) return { ...out, error: `HTTP ${res.status}: ${text.slice(0, 120)}` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ...out, error: `body is not JSON: ${text.slice(0, 120)}` };
  }
  const body = answerSchema.safeParse(json);
  if (!body.success) return { ...out, error: `body: ${formatIssues(body.error)}` };
  return { ...out, hostname: body.data.hostname };
}

export interface TracedService {
  /** Compose service, e.g. service1. */
  service: string;
  /** Path through Envoy, e.g. /service/1. */
  path: string;
  /** Service id the replica's span must carry (tag service.id). */
  id?: string;
  /** Zipkin service name of its spans (default: the compose service name). */
  serviceName?: string;
}

export interface TracingCheckOptions {
  listenerUrl: string;
  zipkin: ZipkinClient;
  services: readonly TracedService[];
  /** Zipkin service name of Envoy's spans: node.cluster in envoy/envoy.yaml (default front-envoy). */
  envoyServiceName?: string;
  kinds?: readonly TraceKind[];
  /** Longest wait for Zipkin to answer /health before the probes are sent (default 120 s). */
  readyTimeoutMs?: number;
  /** Longest wait for a trace to be complete in Zipkin, per trace (default 15 s). */
  timeoutMs?: number;
  pollMs?: number;
}

interface TraceOutcome {
  request: TracedRequest;
  traceId: string | undefined;
  evaluation: TraceEvaluation;
  /** ms from the answer until Zipkin returned the complete trace; undefined when it never did. */
  queryableMs: number | undefined;
}

async function followTrace(
  zipkin: ZipkinClient,
  request: TracedRequest,
  exp: Omit<TraceExpectation, "traceId">,
  timeoutMs: number,
  pollMs: number,
): Promise<TraceOutcome> {
  const traceId = request.sent?.traceId ?? request.responseTraceId;
  if (request.error !== undefined || traceId === undefined) {
    const why = request.error ?? "the response has no x-b3-traceid header";
    return {
      request,
      traceId,
      evaluation: { complete: false, problems: [`${request.kind} request to ${request.path}: ${why}`] },
      queryableMs: undefined,
    };
  }
  const full: TraceExpectation = {
    ...exp,
    traceId,
    ...(request.hostname !== undefined && { replica: request.hostname }),
    ...(request.requestId !== undefined && { requestId: request.requestId }),
    ...(request.sent && { incoming: request.sent }),
  };
  const problems: string[] = [];
  if (request.responseTraceId !== traceId) {
    problems.push(`the client sent trace id ${traceId} but the response carries x-b3-traceid ${request.responseTraceId ?? "(none)"}`);
  }
  let evaluation: TraceEvaluation = { complete: false, problems: [] };
  const found = await poll(
    async () => {
      try {
        evaluation = evaluateTrace(await zipkin.trace(traceId), full);
      } catch (err) {
        evaluation = { complete: false, problems: [errorMessage(err)] };
      }
      return evaluation.complete ? performance.now() - request.answeredAt : undefined;
    },
    { timeoutMs: Math.max(0, request.answeredAt + timeoutMs - performance.now()), intervalMs: pollMs },
  );
  if (found !== undefined) {
    return { request, traceId, evaluation: { ...evaluation, problems: [...problems, ...evaluation.problems] }, queryableMs: found };
  }
  return {
    request,
    traceId,
    evaluation: { ...evaluation, problems: [...problems, ...evaluation.problems, `(gave up after ${timeoutMs} ms)`] },
    queryableMs: undefined,
  };
}

/** The tracing check's probes, sent and answered: `follow()` finds each one's trace in Zipkin. */
export interface SentTracingProbes {
  follow(): Promise<ObservabilityCheckResult[]>;
}

/**
 * The tracing check in two steps, so a caller can count the probes into other checks' "before"
 * (verify reads Prometheus only after these requests) while Zipkin is still ingesting them:
 * per service, one request per kind (no context, B3 context).
 */
export async function sendTracingProbes(opts: TracingCheckOptions): Promise<SentTracingProbes> {
  const kinds = opts.kinds ?? TRACE_KINDS;
  // Spans reported before Zipkin listens are lost: a probe sent then could never be found.
  await opts.zipkin.untilHealthy(opts.readyTimeoutMs ?? 120_000);
  const sent: { svc: TracedService; requests: TracedRequest[] }[] = [];
  for (const svc of opts.services) {
    const requests: TracedRequest[] = [];
    for (const kind of kinds) requests.push(await sendTracedRequest(opts.listenerUrl, svc.path, kind));
    sent.push({ svc, requests });
  }
  return { follow: () => Promise.all(sent.map(({ svc, requests }) => followService(opts, svc, requests))) };
}

/**
 * The tracing check: per service, one request per kind, each followed into Zipkin (all services at
 * once). One result per service; metrics: queryable_ms_<kind> (answer → complete trace in Zipkin)
 * and queryable_ms_max.
 */
export async function tracingCheck(opts: TracingCheckOptions): Promise<ObservabilityCheckResult[]> {
  return (await sendTracingProbes(opts)).follow();
}

async function followService(opts: TracingCheckOptions, svc: TracedService, requests: TracedRequest[]): Promise<ObservabilityCheckResult> {
  const envoyServiceName = opts.envoyServiceName ?? "front-envoy";
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const pollMs = opts.pollMs ?? 100;
  const serviceName = svc.serviceName ?? svc.service;
  const outcomes = await Promise.all(
    requests.map((r) =>
      followTrace(opts.zipkin, r, { envoyServiceName, serviceName, ...(svc.id !== undefined && { serviceId: svc.id }) }, timeoutMs, pollMs),
    ),
  );
  const metrics: Record<string, number> = {};
  for (const o of outcomes) if (o.queryableMs !== undefined) metrics[`queryable_ms_${o.request.kind}`] = Math.round(o.queryableMs);
  const lat = outcomes.map((o) => o.queryableMs).filter((v): v is number => v !== undefined);
  if (lat.length > 0) metrics.queryable_ms_max = Math.round(Math.max(...lat));
  const failed = outcomes.filter((o) => o.evaluation.problems.length > 0);
  const describe = (o: TraceOutcome): string => {
    const what = o.request.kind === "new" ? "request without trace context" : "request with a B3 context";
    return `${what} (trace ${o.traceId ?? "?"})`;
  };
  const detail =
    failed.length === 0
      ? `${outcomes.length} trace${outcomes.length === 1 ? "" : "s"} each hold ${envoyServiceName}'s span and ${serviceName}'s child span with the trace id the client saw: ` +
        outcomes
          .map((o) => `${describe(o)} answered by ${o.request.hostname}, queryable after ${Math.round(o.queryableMs ?? 0)} ms`)
          .join("; ")
      : failed.map((o) => `${describe(o)}: ${o.evaluation.problems.join("; ")}`).join(" | ");
  return { name: "tracing", service: svc.service, passed: failed.length === 0, detail, metrics };
}
