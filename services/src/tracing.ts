// Tracing with the OpenTelemetry SDK, manual spans only (no auto-instrumentation). Trace context in:
// B3 multi-header (what Envoy's zipkin tracer sends), the single `b3` header, or W3C `traceparent`;
// B3 wins over traceparent. Spans out: Zipkin v2 JSON to ZIPKIN_ENDPOINT, in batches. The service's
// span is a SERVER child of the incoming span; without incoming context it is the root of a new trace.
import type { IncomingHttpHeaders } from "node:http";
import { type Context, ROOT_CONTEXT, type Span, SpanKind, type TextMapGetter, trace } from "@opentelemetry/api";
import { CompositePropagator, type ExportResult, ExportResultCode, W3CTraceContextPropagator } from "@opentelemetry/core";
import { ZipkinExporter } from "@opentelemetry/exporter-zipkin";
import { B3Propagator } from "@opentelemetry/propagator-b3";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
  type SpanExporter,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import type { Logger } from "./logging.js";

/** Set on a parentless context when the caller said "do not sample" without trace ids. */
const UNSAMPLED_ROOT = Symbol("unsampled root");

/** Roots are sampled unless the caller declined (`x-b3-sampled: 0` or `b3: 0` alone). */
const rootSampler: Sampler = {
  shouldSample: (ctx) => ({
    decision: ctx.getValue(UNSAMPLED_ROOT) ? SamplingDecision.NOT_RECORD : SamplingDecision.RECORD_AND_SAMPLED,
  }),
  toString: () => "RootUnlessDeclined",
};

/** Ids are lower hex on the wire (Zipkin rejects a batch holding an upper-case one). */
function first(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return (Array.isArray(value) ? value[0] : value)?.trim().toLowerCase();
}

/**
 * B3 ids without x-b3-sampled mean the caller deferred the decision; we are the last tracer, so
 * we sample (OpenTelemetry's B3 propagator would read the absence as "not sampled").
 */
const getter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) =>
    key === "x-b3-sampled" && headers[key] === undefined && headers["x-b3-traceid"] !== undefined ? "1" : first(headers, key),
};

// CompositePropagator extracts in order and the last context found wins: B3 over traceparent.
const propagator = new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new B3Propagator()] });

/** Zipkin stores a 128-bit id whose high half is zero as the 64-bit id (Envoy's default width). */
export function zipkinTraceId(id: string): string {
  return id.startsWith("0000000000000000") ? id.slice(16) : id;
}

/** Passes batches to the Zipkin exporter and logs failures, at most one warning per `warnEveryMs`. */
class LoggedExporter implements SpanExporter {
  /** Counters, for logs and tests. `pending`: spans handed to a POST not yet answered. */
  readonly stats = { sent: 0, failed: 0, pending: 0 };
  private lastWarnAt = -Infinity;
  private suppressed = 0;

  constructor(
    private readonly inner: SpanExporter,
    private readonly endpoint: string,
    private readonly logger: Logger,
    private readonly warnEveryMs = 10_000,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.stats.pending += spans.length;
    this.inner.export(spans, (result) => {
      this.stats.pending -= spans.length;
      if (result.code === ExportResultCode.SUCCESS) this.stats.sent += spans.length;
      else this.warn(result.error, spans.length);
      done(result);
    });
  }

  shutdown = () => this.inner.shutdown();
  forceFlush = () => this.inner.forceFlush?.() ?? Promise.resolve();

  private warn(error: Error | undefined, spans: number): void {
    this.stats.failed += spans;
    const now = Date.now();
    if (now - this.lastWarnAt < this.warnEveryMs) {
      this.suppressed++;
      return;
    }
    this.lastWarnAt = now;
    this.logger.warn("zipkin report failed", {
      endpoint: this.endpoint,
      spans,
      error: error ?? "export failed",
      ...(this.suppressed > 0 && { similar_failures_suppressed: this.suppressed }),
      spans_failed_total: this.stats.failed,
    });
    this.suppressed = 0;
  }
}

export interface TracingOptions {
  /** Zipkin v2 collector URL; undefined = spans are neither recorded nor sent (ids still flow). */
  endpoint: string | undefined;
  serviceName: string;
  logger: Logger;
  /** BatchSpanProcessor timer: a partial batch leaves this long after it was started (default 500 ms). */
  flushIntervalMs?: number;
  /** Stand-in for the Zipkin exporter (tests). */
  exporter?: SpanExporter;
}

export class Tracing {
  private readonly provider: TracerProvider;
  private readonly tracer;
  private readonly exporter: LoggedExporter | undefined;
  private readonly endpoint: string | undefined;
  private readonly logger: Logger;

  constructor(options: TracingOptions) {
    const { endpoint, serviceName, logger } = options;
    this.endpoint = endpoint;
    this.logger = logger;
    this.exporter =
      endpoint === undefined
        ? undefined
        : new LoggedExporter(options.exporter ?? new ZipkinExporter({ url: endpoint, serviceName }), endpoint, logger);
    this.provider = new TracerProvider({
      // Only service.name: every resource attribute becomes a tag on every Zipkin span.
      resource: resourceFromAttributes({ "service.name": serviceName }),
      sampler: this.exporter ? new ParentBasedSampler({ root: rootSampler }) : new AlwaysOffSampler(),
      spanProcessors: this.exporter
        ? [
            new BatchSpanProcessor({
              exporter: this.exporter,
              scheduledDelayMillis: options.flushIntervalMs ?? 500,
              maxExportBatchSize: 512,
              maxQueueSize: 5000,
              exportTimeoutMillis: 2000,
            }),
          ]
        : [],
    });
    this.tracer = this.provider.getTracer("envoy-pipeline-service");
  }

  /** Export counters (undefined without an endpoint). */
  get stats(): Readonly<LoggedExporter["stats"]> | undefined {
    return this.exporter?.stats;
  }

  /** The SERVER span of one request, a child of the context in its headers. Non-recording when unsampled. */
  startServerSpan(name: string, headers: IncomingHttpHeaders): Span {
    let parent: Context = propagator.extract(ROOT_CONTEXT, headers, getter);
    if (trace.getSpanContext(parent) === undefined) {
      const sampled = first(headers, "x-b3-sampled");
      if (sampled === "0" || sampled === "false" || first(headers, "b3") === "0") parent = parent.setValue(UNSAMPLED_ROOT, true);
    }
    return this.tracer.startSpan(name, { kind: SpanKind.SERVER }, parent);
  }

  /** Sends every finished span and waits for the POSTs. Never rejects: failures are logged by the exporter. */
  async flush(): Promise<void> {
    await this.provider.forceFlush().catch(() => {});
  }

  /** Flushes and stops, giving up after `timeoutMs` (the process is about to exit). Never rejects. */
  async close(timeoutMs = 500): Promise<void> {
    let deadline: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<true>((resolve) => {
      deadline = setTimeout(() => resolve(true), timeoutMs);
    });
    // A failed export was logged by the exporter already.
    const stopped = this.provider.shutdown().then(
      () => false as const,
      () => false as const,
    );
    const timedOut = await Promise.race([stopped, gaveUp]);
    clearTimeout(deadline);
    if (timedOut) {
      this.logger.warn("zipkin flush on shutdown timed out", {
        endpoint: this.endpoint,
        timeout_ms: timeoutMs,
        spans_in_flight: this.exporter?.stats.pending ?? 0,
      });
    }
  }
}
