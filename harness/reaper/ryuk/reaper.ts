// startReaper: checks Docker answers, logs its settings, listens, and arms the first prune check.
import type { ReaperConfig } from "./config.ts";
import { DockerApi, errorText } from "./docker.ts";
import { type Log, slogLine } from "./protocol.ts";
import { type ReaperResult, ReaperSession } from "./session.ts";

export interface Reaper {
  /** The port it listens on (useful with port 0). */
  port: number;
  /** Resolves when it has pruned (and closed), with what it removed and what it could not. */
  done: Promise<ReaperResult>;
  /** As SIGTERM: stop accepting clients; prune now if none is connected, else after the shutdown timeout. */
  shutdown(): void;
}

export async function startReaper(config: ReaperConfig, opts: { api?: DockerApi; log?: Log; host?: string } = {}): Promise<Reaper> {
  const api = opts.api ?? new DockerApi(config.requestTimeoutMs);
  const log: Log =
    opts.log ??
    ((level, msg, attrs) => {
      if (level !== "DEBUG" || config.verbose) process.stdout.write(`${slogLine(level, msg, attrs)}\n`);
    });
  const ping = await api.call("GET", "/_ping");
  if (ping.status !== 200) throw new Error(`ping: Docker answered ${ping.status} ${errorText(ping.body)}`);
  log("INFO", "starting", {
    connection_timeout: `${config.connectionTimeoutMs}ms`,
    reconnection_timeout: `${config.reconnectionTimeoutMs}ms`,
    request_timeout: `${config.requestTimeoutMs}ms`,
    shutdown_timeout: `${config.shutdownTimeoutMs}ms`,
    remove_retries: config.removeRetries,
    retry_offset: `${config.retryOffsetMs}ms`,
    changes_retry_interval: `${config.changesRetryIntervalMs}ms`,
    port: config.port,
    verbose: config.verbose,
  });
  const session = new ReaperSession(config, api, log);
  const addr = await session.listen(config.port, opts.host);
  const port = typeof addr === "object" && addr !== null ? addr.port : config.port;
  // Testcontainers waits for this line (Wait.forLogMessage(/.*Started.*/)): keep the word.
  log("INFO", "Started", { address: typeof addr === "object" && addr !== null ? `[${addr.address}]:${addr.port}` : String(addr) });
  session.schedule(config.connectionTimeoutMs);
  return { port, done: session.done, shutdown: () => session.shutdown() };
}
