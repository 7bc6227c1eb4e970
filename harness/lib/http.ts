// Every HTTP call the harness makes as a client (Envoy's admin API, Prometheus, Zipkin, health probes,
// Jenkins) goes through here.
// Design notes: docs/security.md ("lib/http.ts").
import type { Agent } from "node:http";
import axios, { isAxiosError } from "axios";
import type { z } from "zod";
import { errorMessage, formatIssues, PipelineError } from "./errors.ts";

/** No answer, an unexpected status, or a body that is not what the schema says. */
export class HttpError extends PipelineError {
  override name = "HttpError";
  constructor(
    message: string,
    /** The HTTP status, when there was an answer. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  /** For the whole exchange, body included; default 5 s. */
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** Query parameters, added to the URL's own. */
  params?: Record<string, string>;
  /** Request body (POST), sent as given. */
  body?: string;
  signal?: AbortSignal;
  /** A connection pool of the caller's (`new Agent({ keepAlive: false })` for a fresh connection each time). */
  agent?: Agent;
}

export interface HttpResponse {
  status: number;
  /** Lower-case names; set-cookie is an array. */
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const client = axios.create({
  proxy: false,
  maxRedirects: 0,
  responseType: "text",
  // The raw text: JSON is parsed (and reported) here, with the schema.
  transformResponse: [(data: unknown) => data],
  validateStatus: () => true,
});

function describeFailure(err: unknown, timeoutMs: number): string {
  if (isAxiosError(err)) {
    if (err.code === "ECONNABORTED" || err.code === "ETIMEDOUT" || err.code === "ERR_CANCELED") {
      return err.code === "ERR_CANCELED" ? "aborted" : `no answer within ${timeoutMs} ms`;
    }
    return err.code ? `${err.code}: ${err.message}` : err.message;
  }
  return errorMessage(err);
}

/**
 * One request. Resolves with any HTTP status (look at `status`); rejects with an HttpError
 * `METHOD url: why` when there is no answer (refused, reset, timed out, aborted).
 */
export async function request(method: "GET" | "POST", url: string | URL, opts: RequestOptions = {}): Promise<HttpResponse> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await client.request<string>({
      method,
      url: String(url),
      timeout: timeoutMs,
      signal: opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout,
      ...(opts.headers ? { headers: opts.headers } : {}),
      ...(opts.params ? { params: opts.params } : {}),
      ...(opts.body !== undefined ? { data: opts.body } : {}),
      ...(opts.agent ? { httpAgent: opts.agent } : {}),
    });
    const headers: Record<string, string | string[] | undefined> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (typeof value === "string" || Array.isArray(value)) headers[name.toLowerCase()] = value;
      else if (value !== undefined && value !== null) headers[name.toLowerCase()] = String(value);
    }
    return { status: res.status, headers, text: typeof res.data === "string" ? res.data : String(res.data ?? "") };
  } catch (err) {
    const why = timeout.aborted && !opts.signal?.aborted ? `no answer within ${timeoutMs} ms` : describeFailure(err, timeoutMs);
    throw new HttpError(`${method} ${String(url)}: ${why}`);
  }
}

/** The start of a body, on one line, for messages. */
export function snippet(text: string, max = 200): string {
  const one = text.replace(/\s+/g, " ").trim();
  if (one === "") return "(empty body)";
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

/** Parses an answer's body as JSON and then with `schema`; `what` names it in errors. */
export function parseJson<S extends z.ZodType>(res: HttpResponse, schema: S, what: string): z.output<S> {
  let data: unknown;
  try {
    data = JSON.parse(res.text);
  } catch {
    throw new HttpError(`${what}: HTTP ${res.status}, not JSON: ${snippet(res.text)}`, res.status);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new HttpError(`${what}: unexpected answer: ${formatIssues(parsed.error)}`, res.status);
  return parsed.data;
}

/**
 * GET a JSON document and parse it with `schema`. Rejects with an HttpError naming the URL and
 * what was wrong: no answer, a status other than 2xx (unless `acceptStatus` takes it: Prometheus
 * sends its errors as JSON with 400/422/503), not JSON, or the field that does not fit.
 */
export async function getJson<S extends z.ZodType>(
  url: string | URL,
  schema: S,
  opts: RequestOptions & { acceptStatus?: (status: number) => boolean } = {},
): Promise<z.output<S>> {
  const res = await request("GET", url, { ...opts, headers: { accept: "application/json", ...opts.headers } });
  const what = `GET ${String(url)}`;
  const ok = (res.status >= 200 && res.status < 300) || opts.acceptStatus?.(res.status) === true;
  if (!ok) throw new HttpError(`${what}: HTTP ${res.status}: ${snippet(res.text)}`, res.status);
  return parseJson(res, schema, what);
}

/** POST `body` (default empty); rejects unless the answer is 2xx. Resolves with the answer. */
export async function post(url: string | URL, opts: RequestOptions = {}): Promise<HttpResponse> {
  const res = await request("POST", url, { ...opts, body: opts.body ?? "" });
  if (res.status < 200 || res.status >= 300)
    throw new HttpError(`POST ${String(url)}: HTTP ${res.status}: ${snippet(res.text)}`, res.status);
  return res;
}

/** Whether GET `url` answers 2xx in time (a health or readiness probe); never rejects. */
export async function probe(url: string | URL, opts: RequestOptions = {}): Promise<boolean> {
  try {
    const res = await request("GET", url, opts);
    return res.status >= 200 && res.status < 300;
  } catch {
    return false;
  }
}
