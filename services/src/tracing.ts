// Trace context in (Zipkin B3 as Envoy's zipkin tracer sends it, the single `b3` header, or W3C
// `traceparent`) and Zipkin v2 spans out. The service's span is a child of the incoming span: same
// traceId, parentId = the incoming span id, a new 64-bit span id. Without incoming context it
// starts a new trace (128-bit trace id) as its root.
import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

export interface TraceContext {
  traceId: string;
  /** The span this request's span is a child of, if any. */
  parentId: string | undefined;
  /** This request's own span id. */
  spanId: string;
  /** False when the caller decided not to sample (x-b3-sampled: 0, b3 `-0`, traceparent flags 00). */
  sampled: boolean;
  /** B3 debug flag (x-b3-flags: 1 or b3 `-d`): sampled and marked debug. */
  debug: boolean;
  /** Where the context came from. */
  source: "b3" | "b3-single" | "traceparent" | "new";
}

/** Zipkin API v2 span (https://zipkin.io/zipkin-api/#/default/post_spans). */
export interface ZipkinSpan {
  traceId: string;
  parentId?: string;
  id: string;
  kind: "SERVER";
  name: string;
  /** Epoch microseconds. */
  timestamp: number;
  /** Microseconds, at least 1. */
  duration: number;
  localEndpoint: { serviceName: string; ipv4?: string };
  remoteEndpoint?: { ipv4?: string; ipv6?: string; port?: number };
  tags: Record<string, string>;
  debug?: true;
}

const TRACE_ID = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ZEROS = /^0+$/;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.trim().toLowerCase();
}

const validTraceId = (id: string | undefined): id is string => id !== undefined && TRACE_ID.test(id) && !ZEROS.test(id);
const validSpanId = (id: string | undefined): id is string => id !== undefined && SPAN_ID.test(id) && !ZEROS.test(id);

// Ids come from a pool of random bytes refilled 4 KiB at a time: one randomBytes call per ~170
// requests instead of two per request (it showed up at ~5 % of CPU under load).
let pool = Buffer.alloc(0);
let poolOffset = 0;

/** A random non-zero id of `bytes` bytes as lower hex (8 bytes for span ids, 16 for new trace ids). */
export function randomId(bytes: 8 | 16): string {
  for (;;) {
    if (poolOffset + bytes > pool.length) {
      pool = randomBytes(4096);
      poolOffset = 0;
    }
    const id = pool.toString("hex", poolOffset, poolOffset + bytes);
    poolOffset += bytes;
    if (!ZEROS.test(id)) return id;
  }
}

interface Parent {
  traceId: string;
  spanId: string;
  sampled: boolean;
  debug: boolean;
  source: TraceContext["source"];
}

function fromB3Multi(headers: IncomingHttpHeaders): Parent | undefined {
  const traceId = header(headers, "x-b3-traceid");
  const spanId = header(headers, "x-b3-spanid");
  if (!validTraceId(traceId) || !validSpanId(spanId)) return undefined;
  const debug = header(headers, "x-b3-flags") === "1";
  const sampledHeader = header(headers, "x-b3-sampled");
  // Absent = the caller deferred the decision; we are the only tracer left, so we sample.
  const sampled = debug || !(sampledHeader === "0" || sampledHeader === "false");
  return { traceId, spanId, sampled, debug, source: "b3" };
}

/** `b3: {traceId}-{spanId}[-{sampled}[-{parentSpanId}]]`; a lone `0` means "do not sample". */
function fromB3Single(headers: IncomingHttpHeaders): Parent | "deny" | undefined {
  const value = header(headers, "b3");
  if (value === undefined) return undefined;
  if (value === "0") return "deny";
  const [traceId, spanId, flag] = value.split("-");
  if (!validTraceId(traceId) || !validSpanId(spanId)) return undefined;
  const debug = flag === "d";
  return { traceId, spanId, sampled: flag !== "0", debug, source: "b3-single" };
}

/** `traceparent: 00-{32 hex trace id}-{16 hex parent id}-{2 hex flags}`, bit 0 of flags = sampled. */
function fromTraceparent(headers: IncomingHttpHeaders): Parent | undefined {
  const value = header(headers, "traceparent");
  const m = value === undefined ? null : /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/.exec(value);
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (!validTraceId(traceId) || !validSpanId(spanId) || flags === undefined) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1, debug: false, source: "traceparent" };
}

/**
 * The context for this request's span. B3 multi-header (what Envoy sends) wins over `b3`, which
 * wins over `traceparent`; malformed headers are ignored as if absent, so a new trace starts.
 */
export function extractTraceContext(headers: IncomingHttpHeaders): TraceContext {
  const single = fromB3Single(headers);
  const parent = fromB3Multi(headers) ?? (single === "deny" ? undefined : single) ?? fromTraceparent(headers);
  if (parent) {
    return { ...parent, parentId: parent.spanId, spanId: randomId(8) };
  }
  const sampled = single !== "deny" && header(headers, "x-b3-sampled") !== "0";
  return { traceId: randomId(16), parentId: undefined, spanId: randomId(8), sampled, debug: false, source: "new" };
}

/** Epoch time in microseconds (sub-millisecond resolution from the monotonic clock). */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** Splits a socket's remote address into the Zipkin endpoint fields (`::ffff:a.b.c.d` is IPv4). */
export function remoteEndpoint(address: string | undefined, port: number | undefined): ZipkinSpan["remoteEndpoint"] {
  if (!address) return undefined;
  const v4 = /^(?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)?.[1];
  return { ...(v4 ? { ipv4: v4 } : { ipv6: address }), ...(port !== undefined && { port }) };
}

export interface SpanInput {
  context: TraceContext;
  name: string;
  startMicros: number;
  endMicros: number;
  serviceName: string;
  ipv4: string;
  remote?: ZipkinSpan["remoteEndpoint"];
  tags: Record<string, string>;
}

export function buildSpan(input: SpanInput): ZipkinSpan {
  const { context } = input;
  return {
    traceId: context.traceId,
    ...(context.parentId !== undefined && { parentId: context.parentId }),
    id: context.spanId,
    kind: "SERVER",
    name: input.name,
    timestamp: input.startMicros,
    duration: Math.max(1, input.endMicros - input.startMicros),
    localEndpoint: { serviceName: input.serviceName, ipv4: input.ipv4 },
    ...(input.remote !== undefined && { remoteEndpoint: input.remote }),
    tags: input.tags,
    ...(context.debug && { debug: true as const }),
  };
}
