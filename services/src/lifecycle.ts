// Graceful shutdown. On SIGTERM (docker stop, compose scale-down, a swarm rolling update) the
// service drains: /healthz answers 503 and every response carries `Connection: close` and
// `x-envoy-immediate-health-check-fail`, so Envoy takes it out of rotation at its next answer or
// health check. With a grace period (SHUTDOWN_GRACE_MS) it keeps accepting and serving that long,
// so requests Envoy still sends meanwhile are answered rather than refused. Then it stops
// accepting connections, lets requests in flight finish, closes idle keep-alive sockets at once,
// and flushes finished spans. Without a grace period an idle service is gone in a few milliseconds;
// a hard deadline forces the rest.
import { setTimeout as sleep } from "node:timers/promises";
import type { Server } from "node:http";
import type { Logger } from "./logging.js";
import type { Tracing } from "./tracing.js";

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
  tracing: Pick<Tracing, "close">;
  logger: Logger;
  /** How long requests in flight may take before their connections are cut (default 2500 ms). */
  drainTimeoutMs?: number;
  /** How long the final span flush may take (default 400 ms). */
  flushTimeoutMs?: number;
  /** How long to keep serving while draining, before the listener closes (default 0). */
  graceMs?: number;
}

export interface ShutdownResult {
  /** False when connections had to be cut at the drain deadline. */
  clean: boolean;
  durationMs: number;
}

export async function shutdown(options: ShutdownOptions): Promise<ShutdownResult> {
  const { server, lifecycle, tracing, logger } = options;
  const drainTimeoutMs = options.drainTimeoutMs ?? 2500;
  const started = performance.now();
  lifecycle.beginDrain();
  const graceMs = options.graceMs ?? 0;
  if (graceMs > 0) {
    logger.info("draining: still serving, /healthz answers 503", { grace_ms: graceMs });
    await sleep(graceMs);
  }

  // Everything from here up to the next await runs synchronously: without a grace period, when
  // shutdown() returns its promise the listening socket is already closed.
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

  await tracing.close(options.flushTimeoutMs ?? 400);
  return { clean: !cut, durationMs: Math.round((performance.now() - started) * 10) / 10 };
}
