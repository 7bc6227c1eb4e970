// Graceful shutdown. On SIGTERM (docker stop, compose scale-down) the service stops accepting
// connections, answers /healthz with 503, lets requests in flight finish (their responses carry
// `Connection: close`), closes idle keep-alive sockets at once, and flushes queued spans. An idle
// service is gone in a few milliseconds; a hard deadline forces the rest.
import type { Server } from "node:http";
import type { Logger } from "./logging.js";
import type { SpanReporter } from "./reporter.js";

/** Shared between the request handler and the shutdown sequence. */
export class Lifecycle {
  private drainingSince: number | undefined;

  /** True from the moment shutdown starts. */
  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  beginDrain(): void {
    this.drainingSince ??= Date.now();
  }
}

export interface ShutdownOptions {
  server: Server;
  lifecycle: Lifecycle;
  reporter: SpanReporter;
  logger: Logger;
  /** How long requests in flight may take before their connections are cut (default 2500 ms). */
  drainTimeoutMs?: number;
  /** How long the final span flush may take (default 400 ms). */
  flushTimeoutMs?: number;
}

export interface ShutdownResult {
  /** False when connections had to be cut at the drain deadline. */
  clean: boolean;
  durationMs: number;
}

export async function shutdown(options: ShutdownOptions): Promise<ShutdownResult> {
  const { server, lifecycle, reporter, logger } = options;
  const drainTimeoutMs = options.drainTimeoutMs ?? 2500;
  const started = performance.now();
  lifecycle.beginDrain();

  // Everything up to the first await runs synchronously: when shutdown() returns its promise the
  // listening socket is already closed (main.ts relies on this to log "shutting down" truthfully).
  const closed = new Promise<void>((resolve) => {
    // Stop accepting; the callback runs when the last connection has closed. An error here only
    // means the server was not listening, which is as closed as it gets.
    server.close(() => resolve());
  });
  // server.close() already drops idle keep-alive sockets on Node >= 19; say it explicitly so the
  // behaviour does not depend on that.
  server.closeIdleConnections();

  let deadline: NodeJS.Timeout | undefined;
  const timedOut = new Promise<true>((resolve) => {
    deadline = setTimeout(() => resolve(true), drainTimeoutMs);
  });
  const cut = await Promise.race([closed.then(() => false as const), timedOut]);
  clearTimeout(deadline);
  if (cut) {
    logger.warn("requests still in flight at the drain deadline; closing their connections", {
      drain_timeout_ms: drainTimeoutMs,
    });
    server.closeAllConnections();
  }

  await reporter.close(options.flushTimeoutMs ?? 400);
  return { clean: !cut, durationMs: Math.round((performance.now() - started) * 10) / 10 };
}
