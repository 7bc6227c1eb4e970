// The load generator: N requests through Envoy's listener over a fixed number of keep-alive connections
// (undici Pool), every answer parsed with zod and tallied per replica.
// Design notes: docs/verify.md ("verify/load.ts").
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { buildConnector, Pool, type Dispatcher } from "undici";
import { serviceResponseSchema } from "./schema.ts";

/** What the harness saw from one replica (keyed by the hostname it answered with). */
export interface ReplicaTally {
  hostname: string;
  /** Answers naming this replica (any status). */
  count: number;
  /** Of those, answers that were not 200 + success:true + the right serviceid. */
  errors: number;
  /** Why, with counts: "HTTP 503", "success=false", "serviceid=2 (expected 1)", "body: ip: ...". */
  errorKinds: Map<string, number>;
  /** `ip` values it reported, with counts. */
  ips: Map<string, number>;
  /** Latencies in ms of its answers. */
  latencies: number[];
  /** Response body bytes of its answers (what the replica's http_response_size_bytes counts). */
  bodyBytes: number;
}

export interface FailureTally {
  kind: "transport" | "http" | "body";
  status: number | null;
  detail: string;
  count: number;
}

/** Everything one batch of requests produced. */
export class Tally {
  readonly replicas = new Map<string, ReplicaTally>();
  readonly failures = new Map<string, FailureTally>();
  /** Latency of every request (ms), answered or not, in completion order. */
  latencies: number[] = [];
  sent = 0;
  ok = 0;
  /** Requests not sent because the load gave up: every request in a row got no HTTP answer. */
  abandoned = 0;
  /** Transport failures in a row, ended by any HTTP answer. */
  consecutiveNoAnswer = 0;

  constructor(readonly expectedServiceId: string | undefined) {}

  /** Answers that named no replica (transport errors, Envoy-made errors, unparseable bodies). */
  get unattributed(): number {
    let n = 0;
    for (const f of this.failures.values()) n += f.count;
    return n;
  }

  replica(hostname: string): ReplicaTally {
    let r = this.replicas.get(hostname);
    if (!r) {
      r = { hostname, count: 0, errors: 0, errorKinds: new Map(), ips: new Map(), latencies: [], bodyBytes: 0 };
      this.replicas.set(hostname, r);
    }
    return r;
  }

  private fail(kind: FailureTally["kind"], status: number | null, detail: string): void {
    const key = `${kind}|${status}|${detail}`;
    const f = this.failures.get(key);
    if (f) f.count += 1;
    else this.failures.set(key, { kind, status, detail, count: 1 });
  }

  /** A request that got no HTTP answer. */
  transportError(err: unknown, latencyMs: number): void {
    this.sent += 1;
    this.consecutiveNoAnswer += 1;
    this.latencies.push(latencyMs);
    const e = err as { code?: string; message?: string };
    this.fail("transport", null, e.code ? `${e.code}: ${e.message ?? ""}`.trim() : String(e.message ?? err));
  }

  /** An HTTP answer: classify it and attribute it to the replica it names, if any. */
  answer(status: number, body: string, latencyMs: number): void {
    this.sent += 1;
    this.consecutiveNoAnswer = 0;
    this.latencies.push(latencyMs);
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch {
      this.fail(status === 200 ? "body" : "http", status, `${status === 200 ? "not JSON: " : ""}${snippet(body)}`);
      return;
    }
    const parsed = serviceResponseSchema.safeParse(data);
    if (!parsed.success) {
      // A body that names a hostname is still blamed on that replica.
      const named = typeof (data as { hostname?: unknown })?.hostname === "string" ? (data as { hostname: string }).hostname : "";
      const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
      if (named !== "") {
        const r = this.replica(named);
        r.count += 1;
        r.bodyBytes += Buffer.byteLength(body, "utf8");
        r.latencies.push(latencyMs);
        this.replicaError(r, status === 200 ? `invalid answer (${issues})` : `HTTP ${status}, invalid answer (${issues})`);
      } else {
        this.fail(
          status === 200 ? "body" : "http",
          status,
          status === 200 ? `invalid answer (${issues})` : (errorText(data) ?? snippet(body)),
        );
      }
      return;
    }
    const v = parsed.data;
    const r = this.replica(v.hostname);
    r.count += 1;
    r.bodyBytes += Buffer.byteLength(body, "utf8");
    r.latencies.push(latencyMs);
    r.ips.set(v.ip, (r.ips.get(v.ip) ?? 0) + 1);
    if (status !== 200) this.replicaError(r, `HTTP ${status}`);
    else if (!v.success) this.replicaError(r, "success=false");
    else if (this.expectedServiceId !== undefined && v.serviceid !== this.expectedServiceId) {
      this.replicaError(r, `serviceid=${v.serviceid} (expected ${this.expectedServiceId})`);
    } else this.ok += 1;
  }

  private replicaError(r: ReplicaTally, kind: string): void {
    r.errors += 1;
    r.errorKinds.set(kind, (r.errorKinds.get(kind) ?? 0) + 1);
  }

  /** Answers per hostname. */
  counts(): Map<string, number> {
    return new Map([...this.replicas.values()].map((r) => [r.hostname, r.count]));
  }
}

/**
 * The `error` of a JSON error body (Envoy's local replies, the services' errors), so that answers
 * differing only in their request id count as one kind of failure.
 */
function errorText(data: unknown): string | undefined {
  const error = typeof data === "object" && data !== null ? (data as { error?: unknown }).error : undefined;
  return typeof error === "string" && error !== "" ? snippet(error) : undefined;
}

function snippet(body: string): string {
  const one = body.replace(/\s+/g, " ").trim();
  return one.length > 120 ? `${one.slice(0, 117)}...` : one === "" ? "(empty body)" : one;
}

export interface LoadOptions {
  /** Envoy's listener, e.g. http://127.0.0.1:10000 */
  listenerUrl: string;
  /** e.g. /service/1 */
  path: string;
  requests: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Keep-alive connections to open (at most). */
  connections: number;
  /** serviceid every answer must carry. */
  expectedServiceId?: string;
  /** Per-request timeout (headers and body), ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Adds to an existing tally instead of a new one. */
  tally?: Tally;
  /**
   * Stop sending after this many requests in a row got no HTTP answer (default: twice the
   * requests in flight, at least 8): a listener that is down or frozen then costs a few timeouts,
   * not one per planned request. The requests not sent are counted in `tally.abandoned`.
   */
  giveUpAfter?: number;
}

export interface LoadResult {
  tally: Tally;
  durationMs: number;
  /** TCP connections the pool opened to Envoy (each lands on one Envoy worker for its life). */
  connectionsOpened: number;
  /** Bytes on the wire over all of the load's connections (headers included), as the sockets count them. */
  bytes: { sent: number; received: number };
}

/**
 * Sends `requests` GETs with `concurrency` in flight over at most `connections` keep-alive
 * connections (pipelining 1, as browsers and most clients do), then closes the pool.
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const tally = opts.tally ?? new Tally(opts.expectedServiceId);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  // undici's own connector, wrapped to keep each socket: its byte counts are what Envoy's listener
  // must have received and sent.
  const sockets: Socket[] = [];
  const connector = buildConnector({});
  const pool = new Pool(new URL(opts.listenerUrl).origin, {
    connect: (options, callback) =>
      connector(options, (...args) => {
        if (args[1]) sockets.push(args[1]);
        callback(...args);
      }),
    connections: opts.connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  let connectionsOpened = 0;
  pool.on("connect", () => {
    connectionsOpened += 1;
  });
  const started = performance.now();
  try {
    const giveUpAfter = opts.giveUpAfter ?? Math.max(8, 2 * opts.concurrency);
    await drive(pool, opts.path, opts.requests, opts.concurrency, tally, opts.signal, giveUpAfter);
  } finally {
    await pool.close().catch(() => undefined);
  }
  const bytes = { sent: 0, received: 0 };
  for (const socket of sockets) {
    bytes.sent += socket.bytesWritten;
    bytes.received += socket.bytesRead;
  }
  return { tally, durationMs: performance.now() - started, connectionsOpened, bytes };
}

const REQUEST_HEADERS = { accept: "application/json" };

/**
 * One GET through undici's low-level dispatch API: the body is collected as raw chunks, without
 * the Readable stream and promises of `request()`. That halves the harness's CPU per request,
 * which matters when the harness shares a small CI machine with Envoy and the replicas.
 */
function get(dispatcher: Dispatcher, path: string, done: (err: Error | null, status: number, body: string) => void): void {
  let status = 0;
  let chunks: Buffer[] = [];
  dispatcher.dispatch(
    { path, method: "GET", headers: REQUEST_HEADERS },
    {
      // undici treats a handler as new-style (controller API) only when it has onRequestStart.
      onRequestStart() {},
      onResponseStart(_controller, statusCode) {
        // 1xx informational answers come first and are followed by the real one.
        status = statusCode;
        chunks = [];
      },
      onResponseData(_controller, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        done(null, status, chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8"));
      },
      onResponseError(_controller, err) {
        done(err, 0, "");
      },
    },
  );
}

/** `count` requests with `concurrency` in flight over one dispatcher, every answer tallied. */
export function drive(
  dispatcher: Dispatcher,
  path: string,
  count: number,
  concurrency: number,
  tally: Tally,
  signal?: AbortSignal,
  giveUpAfter = Number.POSITIVE_INFINITY,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let issued = 0;
    let finished = 0;
    let failed = false;
    /** Set when the load gives up: no further request starts; those in flight are awaited. */
    let stopped = false;
    const lanes = Math.max(1, Math.min(concurrency, count));
    if (count <= 0) {
      resolve();
      return;
    }
    const next = (): void => {
      if (failed) return;
      if (signal?.aborted) {
        failed = true;
        reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
        return;
      }
      issued += 1;
      const t0 = performance.now();
      get(dispatcher, path, (err, status, body) => {
        const ms = performance.now() - t0;
        try {
          if (err) tally.transportError(err, ms);
          else tally.answer(status, body, ms);
        } catch (e) {
          failed = true;
          reject(e as Error);
          return;
        }
        finished += 1;
        if (!stopped && issued < count && tally.consecutiveNoAnswer >= giveUpAfter) {
          stopped = true;
          tally.abandoned += count - issued;
        }
        if (finished === issued && (stopped || issued === count)) resolve();
        else if (!stopped && issued < count) next();
      });
    };
    for (let i = 0; i < lanes; i++) next();
  });
}

/** The bytes of some loads to one service: on the wire (all sockets) and in bodies (per replica). */
export function bytesOfLoads(...loads: readonly LoadResult[]): {
  wireSent: number;
  wireReceived: number;
  bodySent: number;
  bodyReceivedPerReplica: Record<string, number>;
} {
  const perReplica: Record<string, number> = {};
  for (const load of loads)
    for (const r of load.tally.replicas.values()) perReplica[r.hostname] = (perReplica[r.hostname] ?? 0) + r.bodyBytes;
  return {
    wireSent: loads.reduce((sum, l) => sum + l.bytes.sent, 0),
    wireReceived: loads.reduce((sum, l) => sum + l.bytes.received, 0),
    // GETs without a body.
    bodySent: 0,
    bodyReceivedPerReplica: perReplica,
  };
}
