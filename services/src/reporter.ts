// Sends finished spans to a Zipkin collector as v2 JSON (POST of an array) in small batches: at
// `batchSize` spans, or `flushIntervalMs` after the first queued span, and on close. Reporting is
// best effort: a failed POST is logged (rate-limited) and its spans dropped; nothing here throws
// into a request, and the queue is bounded so a dead collector cannot grow memory.
import http from "node:http";
import https from "node:https";
import type { Logger } from "./logging.js";
import type { ZipkinSpan } from "./tracing.js";

export interface SpanReporter {
  report(span: ZipkinSpan): void;
  /** Sends everything queued and waits for every POST in flight. Never rejects. */
  flush(): Promise<void>;
  /** Stops accepting spans and flushes, giving up (aborting POSTs) after `timeoutMs`. Never rejects. */
  close(timeoutMs?: number): Promise<void>;
}

/** Used when ZIPKIN_ENDPOINT is unset: spans are built but go nowhere. */
export const noopReporter: SpanReporter = {
  report() {},
  flush: async () => {},
  close: async () => {},
};

export interface ZipkinReporterOptions {
  endpoint: string;
  logger: Logger;
  batchSize?: number;
  flushIntervalMs?: number;
  /** Per-POST timeout. */
  requestTimeoutMs?: number;
  /** Spans queued beyond this drop the oldest. */
  maxQueue?: number;
  /** POSTs in flight at once. */
  maxConcurrent?: number;
  /** At most one failure warning per this many ms; the others are counted into the next one. */
  warnEveryMs?: number;
}

export class ZipkinReporter implements SpanReporter {
  private readonly endpoint: string;
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly logger: Logger;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxQueue: number;
  private readonly maxConcurrent: number;
  private readonly warnEveryMs: number;
  private readonly abort = new AbortController();
  private readonly inflight = new Set<Promise<void>>();
  private queue: ZipkinSpan[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private lastWarnAt = -Infinity;
  private suppressedWarnings = 0;
  /** Counters, for logs and tests. */
  readonly stats = { sent: 0, failed: 0, dropped: 0 };

  /** Spans waiting for a POST (not yet handed to one). */
  get queued(): number {
    return this.queue.length;
  }

  constructor(options: ZipkinReporterOptions) {
    this.endpoint = options.endpoint;
    this.url = new URL(options.endpoint);
    this.maxConcurrent = options.maxConcurrent ?? 2;
    // Idle sockets must not keep the process alive (Node's agent unrefs free sockets).
    this.agent = new (this.url.protocol === "https:" ? https.Agent : http.Agent)({
      keepAlive: true,
      maxSockets: this.maxConcurrent,
    });
    this.logger = options.logger;
    this.batchSize = options.batchSize ?? 50;
    this.flushIntervalMs = options.flushIntervalMs ?? 500;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 2000;
    this.maxQueue = options.maxQueue ?? 5000;
    this.warnEveryMs = options.warnEveryMs ?? 10_000;
  }

  report(span: ZipkinSpan): void {
    if (this.closed) {
      this.stats.dropped++;
      return;
    }
    if (this.queue.length >= this.maxQueue) {
      this.queue.shift();
      this.stats.dropped++;
    }
    this.queue.push(span);
    if (this.queue.length >= this.batchSize) this.pump();
    else this.schedule();
  }

  async flush(): Promise<void> {
    this.clearTimer();
    while (this.queue.length > 0 || this.inflight.size > 0) {
      this.pump();
      await Promise.all([...this.inflight]);
    }
  }

  async close(timeoutMs = 500): Promise<void> {
    this.closed = true;
    let deadline: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<boolean>((resolve) => {
      deadline = setTimeout(() => resolve(true), timeoutMs);
    });
    const timedOut = await Promise.race([this.flush().then(() => false), gaveUp]);
    clearTimeout(deadline);
    if (timedOut) {
      const lost = this.queue.length;
      this.queue = [];
      this.stats.dropped += lost;
      this.abort.abort(new Error(`zipkin reporter closed after ${timeoutMs} ms`));
      this.logger.warn("zipkin flush on shutdown timed out", { endpoint: this.endpoint, timeout_ms: timeoutMs, spans_dropped: lost });
    }
    this.clearTimer();
    this.agent.destroy();
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, this.flushIntervalMs);
    // A pending batch must not keep the process alive; shutdown flushes it explicitly.
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Starts POSTs for queued spans while below the concurrency limit; re-arms the timer for the rest. */
  private pump(): void {
    this.clearTimer();
    while (this.queue.length > 0 && this.inflight.size < this.maxConcurrent) {
      const batch = this.queue.splice(0, this.batchSize);
      const sending: Promise<void> = this.send(batch).finally(() => {
        this.inflight.delete(sending);
        if (this.queue.length >= this.batchSize) this.pump();
        else if (this.queue.length > 0) this.schedule();
      });
      this.inflight.add(sending);
    }
    if (this.queue.length > 0) this.schedule();
  }

  private async send(batch: ZipkinSpan[]): Promise<void> {
    try {
      await this.post(JSON.stringify(batch));
      this.stats.sent += batch.length;
    } catch (err) {
      this.stats.failed += batch.length;
      this.warn(err, batch.length);
    }
  }

  /**
   * One POST over a keep-alive agent. node:http rather than fetch: under load (a batch every few
   * milliseconds) it costs about a quarter of the CPU that undici's fetch does.
   */
  private post(body: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const request = (this.url.protocol === "https:" ? https : http).request(this.url, {
        method: "POST",
        agent: this.agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        signal: this.abort.signal,
        timeout: this.requestTimeoutMs,
      });
      request.on("timeout", () => request.destroy(new Error(`no answer within ${this.requestTimeoutMs} ms`)));
      request.on("error", reject);
      request.on("response", (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          if (text.length < 200) text += chunk;
        });
        response.on("error", reject);
        response.on("end", () => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new Error(`HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ""}`));
        });
      });
      request.end(body);
    });
  }

  private warn(err: unknown, spans: number): void {
    const now = Date.now();
    if (now - this.lastWarnAt < this.warnEveryMs) {
      this.suppressedWarnings++;
      return;
    }
    this.lastWarnAt = now;
    const suppressed = this.suppressedWarnings;
    this.suppressedWarnings = 0;
    this.logger.warn("zipkin report failed", {
      endpoint: this.endpoint,
      spans,
      error: err instanceof Error ? err : String(err),
      ...(suppressed > 0 && { similar_failures_suppressed: suppressed }),
      spans_failed_total: this.stats.failed,
    });
  }
}

export function createReporter(endpoint: string | undefined, logger: Logger): SpanReporter {
  return endpoint === undefined ? noopReporter : new ZipkinReporter({ endpoint, logger });
}
