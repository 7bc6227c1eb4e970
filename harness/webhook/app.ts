// The receiver put together: store (state dir, lock, replay) → scheduler (resumes queued work) →
// receiver → HTTP endpoint. `startWebhook` is what the CLI and the tests call.
import { DEFAULT_HTTP_LIMITS, DEFAULT_MAX_BODY_BYTES } from "./config.ts";
import type { DeliveryFilters } from "./events.ts";
import { type Logger, silentLogger } from "../lib/log.ts";
import { Receiver } from "./receiver.ts";
import { Scheduler } from "./scheduler.ts";
import { type HttpEndpoint, type HttpLimits, listen } from "./server.ts";
import { SignatureVerifier } from "./signature.ts";
import { DeliveryStore } from "./store.ts";
import { DryRunTrigger } from "./triggers/dry-run.ts";
import type { Trigger } from "./triggers/types.ts";

export interface WebhookOptions {
  /** Interface to listen on; default 127.0.0.1. */
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly stateDir: string;
  /** Every secret accepted (current first); at least one. */
  readonly secrets: readonly string[];
  readonly filters?: Partial<DeliveryFilters>;
  /** Built from the state dir when a function is given (the local trigger needs its paths). */
  readonly trigger: Trigger | ((store: DeliveryStore) => Trigger);
  readonly dryRun?: boolean;
  readonly maxBodyBytes?: number;
  /** Bounds of the HTTP side beyond the body limit (connections, bytes in flight, timeouts). */
  readonly limits?: Partial<Omit<HttpLimits, "maxBodyBytes">>;
  readonly log?: Logger;
  /** Called as soon as the port is open, before any other output (the CLI prints the URL). */
  readonly onListening?: (url: string) => void;
  /** How many times a run interrupted by a stop/crash is retried at start-up. */
  readonly maxAttempts?: number;
}

export interface WebhookApp {
  readonly url: string;
  readonly port: number;
  readonly store: DeliveryStore;
  readonly scheduler: Scheduler;
  readonly http: HttpEndpoint;
  /** Resolves when nothing is running or queued. */
  idle(): Promise<void>;
  /**
   * Stops accepting deliveries, waits for the running pipeline (unless `kill`), leaves queued work
   * recorded for the next start, and releases the state directory.
   */
  stop(options?: { kill?: boolean }): Promise<void>;
  /** Kills the running pipeline (it is recorded `interrupted`); used on a second signal. */
  killRunning(): void;
}

export async function startWebhook(options: WebhookOptions): Promise<WebhookApp> {
  const log = options.log ?? silentLogger;
  const verifier = new SignatureVerifier(options.secrets);
  // Warnings from opening the store (a torn record, a stale lock) are printed after the
  // listening line, which scripts read as the first line of stderr.
  const deferred: Array<() => void> = [];
  const deferredLog: Logger = {
    info: (m) => deferred.push(() => log.info(m)),
    warn: (m) => deferred.push(() => log.warn(m)),
  };
  const store = await DeliveryStore.open(options.stateDir, deferredLog);
  let http: HttpEndpoint | undefined;
  try {
    const inner = typeof options.trigger === "function" ? options.trigger(store) : options.trigger;
    const trigger = options.dryRun ? new DryRunTrigger(inner) : inner;
    const scheduler = new Scheduler({
      store,
      trigger,
      dryRun: options.dryRun ?? false,
      log,
      ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    });
    await scheduler.load(deferredLog);
    const receiver = new Receiver({
      verifier,
      store,
      scheduler,
      filters: { branches: options.filters?.branches ?? [], repositories: options.filters?.repositories ?? [] },
      log,
    });
    http = await listen({
      host: options.host ?? "127.0.0.1",
      port: options.port,
      ...DEFAULT_HTTP_LIMITS,
      ...options.limits,
      maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      receiver,
    });
    options.onListening?.(http.url);
    for (const line of deferred) line();
    await scheduler.start();
    const endpoint = http;
    let stopped: Promise<void> | undefined;
    return {
      url: endpoint.url,
      port: endpoint.port,
      store,
      scheduler,
      http: endpoint,
      idle: () => scheduler.idle(),
      killRunning: () => scheduler.abortRunning(),
      stop: (stopOptions = {}) => {
        if (stopOptions.kill) scheduler.abortRunning();
        stopped ??= (async () => {
          await endpoint.close();
          await scheduler.stop(stopOptions);
          await store.close();
        })();
        return stopped;
      },
    };
  } catch (err) {
    await http?.close();
    await store.close();
    throw err;
  }
}
