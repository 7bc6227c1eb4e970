// A small client for Zipkin's v2 API (GET /api/v2/trace/{traceId}, /api/v2/traces, /api/v2/services,
// /api/v2/spans, /health). Spans are parsed with
// zod; a malformed span is reported by its position and field.
import { z } from "zod";
import { errorMessage, formatIssues } from "../lib/errors.ts";
import { type HttpResponse, parseJson, probe, request, snippet } from "../lib/http.ts";
import { pollUntil } from "../lib/poll.ts";
import { ObservabilityError } from "./types.ts";

const hex = (lengths: readonly number[]) =>
  z.string().refine((s) => /^[0-9a-f]+$/.test(s) && lengths.includes(s.length), `must be ${lengths.join(" or ")} lower-hex characters`);

const endpointSchema = z.object({
  serviceName: z.string().optional(),
  ipv4: z.string().optional(),
  ipv6: z.string().optional(),
  port: z.number().int().optional(),
});

/** Zipkin API v2 span (https://zipkin.io/zipkin-api/#/default/get_trace__traceId_). */
export const zipkinSpanSchema = z.object({
  traceId: hex([16, 32]),
  id: hex([16]),
  parentId: hex([16]).optional(),
  name: z.string().optional(),
  kind: z.enum(["CLIENT", "SERVER", "PRODUCER", "CONSUMER"]).optional(),
  timestamp: z.number().optional(),
  duration: z.number().optional(),
  localEndpoint: endpointSchema.optional(),
  remoteEndpoint: endpointSchema.optional(),
  annotations: z.array(z.object({ timestamp: z.number(), value: z.string() })).optional(),
  tags: z.record(z.string(), z.string()).optional(),
  debug: z.boolean().optional(),
  shared: z.boolean().optional(),
});
export type ZipkinSpan = z.infer<typeof zipkinSpanSchema>;

export const traceSchema = z.array(zipkinSpanSchema);

/** Parses GET /api/v2/trace/{id}'s body; throws naming the span and field that is wrong. */
export function parseTrace(body: unknown, what: string): ZipkinSpan[] {
  const parsed = traceSchema.safeParse(body);
  if (!parsed.success) throw new ObservabilityError(`${what}: unexpected answer: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

export const tracesSchema = z.array(traceSchema);
const namesSchema = z.array(z.string());

export interface TraceQuery {
  /** Newest traces first, at most this many (Zipkin's default is 10). */
  limit: number;
  /** How far back from now, in milliseconds. */
  lookbackMs: number;
  /** Only traces with a span of this service. */
  serviceName?: string;
}

export class ZipkinClient {
  constructor(
    /** e.g. http://127.0.0.1:32772 */
    readonly baseUrl: string,
    private readonly timeoutMs = 5000,
  ) {}

  /** True when /health answers 200. */
  async healthy(): Promise<boolean> {
    return probe(new URL("/health", this.baseUrl), { timeoutMs: this.timeoutMs });
  }

  /**
   * Resolves once /health answers 200; rejects after `timeoutMs`. Deploy does not wait for Zipkin
   * (a JVM: seconds to start, and nothing on the request path needs it), so its first reader does.
   */
  async untilHealthy(timeoutMs: number): Promise<void> {
    await pollUntil(async () => ((await this.healthy()) ? true : undefined), {
      timeoutMs,
      intervalMs: 250,
      timeoutError: () => new ObservabilityError(`Zipkin did not answer /health within ${Math.round(timeoutMs / 1000)} s`),
    });
  }

  /** The spans Zipkin holds for a trace id, or [] when it holds none (404). */
  async trace(traceId: string): Promise<ZipkinSpan[]> {
    const url = new URL(`/api/v2/trace/${encodeURIComponent(traceId)}`, this.baseUrl);
    const body = await this.getJson(url, true);
    return body === undefined ? [] : parseTrace(body, `Zipkin GET ${url.pathname}`);
  }

  /** The newest traces (each an array of spans) that match the query. */
  async traces(q: TraceQuery): Promise<ZipkinSpan[][]> {
    const url = new URL("/api/v2/traces", this.baseUrl);
    url.searchParams.set("limit", String(q.limit));
    url.searchParams.set("lookback", String(Math.max(1, Math.round(q.lookbackMs))));
    url.searchParams.set("endTs", String(Date.now()));
    if (q.serviceName !== undefined) url.searchParams.set("serviceName", q.serviceName);
    const parsed = tracesSchema.safeParse(await this.getJson(url, false));
    if (!parsed.success) throw new ObservabilityError(`Zipkin GET ${url.pathname}: unexpected answer: ${formatIssues(parsed.error)}`);
    return parsed.data;
  }

  /** Every service name Zipkin has spans of (localEndpoint.serviceName). */
  async serviceNames(): Promise<string[]> {
    return this.names(new URL("/api/v2/services", this.baseUrl));
  }

  /** Every span name Zipkin holds for a service. */
  async spanNames(serviceName: string): Promise<string[]> {
    const url = new URL("/api/v2/spans", this.baseUrl);
    url.searchParams.set("serviceName", serviceName);
    return this.names(url);
  }

  private async names(url: URL): Promise<string[]> {
    const parsed = namesSchema.safeParse(await this.getJson(url, false));
    if (!parsed.success) throw new ObservabilityError(`Zipkin GET ${url.pathname}: unexpected answer: ${formatIssues(parsed.error)}`);
    return parsed.data;
  }

  /** GET and parse JSON; undefined for a 404 when `notFoundIsEmpty`. */
  private async getJson(url: URL, notFoundIsEmpty: boolean): Promise<unknown> {
    let res: HttpResponse;
    try {
      res = await request("GET", url, { timeoutMs: this.timeoutMs, headers: { accept: "application/json" } });
    } catch (err) {
      throw new ObservabilityError(`Zipkin ${errorMessage(err)}`);
    }
    if (res.status === 404 && notFoundIsEmpty) return undefined;
    if (res.status !== 200) throw new ObservabilityError(`Zipkin GET ${url}: HTTP ${res.status}: ${snippet(res.text)}`);
    try {
      return parseJson(res, z.unknown(), `Zipkin GET ${url}`);
    } catch (err) {
      throw new ObservabilityError(errorMessage(err));
    }
  }
}
