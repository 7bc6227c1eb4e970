// Entry point: read the environment, start the server, and shut down gracefully on SIGTERM/SIGINT.
// Exit codes: 0 after a clean shutdown, 1 on a configuration or start-up error or when the
// shutdown had to cut connections or hit the hard deadline.
import { createServer } from "./app.js";
import { ConfigError, loadConfig, type ServiceConfig } from "./config.js";
import { detectIdentity } from "./identity.js";
import { Lifecycle, shutdown } from "./lifecycle.js";
import { createLogger } from "./logging.js";
import { startGrpcService } from "./grpc.js";
import { Tracing } from "./tracing.js";

/** Whatever happens during shutdown, the process is gone this long after the signal (plus the grace period). */
const HARD_DEADLINE_MS = 3000;

function readConfig(): ServiceConfig {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    createLogger().error(err.message, { variables: err.variables });
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

const config = readConfig();
const logger = createLogger({ level: config.logLevel });
const identity = detectIdentity(config.reportedHostname);
const tracing = new Tracing({ endpoint: config.zipkinEndpoint, serviceName: config.serviceName, logger });
const lifecycle = new Lifecycle();
const server = createServer({ config, identity, logger, tracing, lifecycle });

// Anything that escapes a handler ends the process with a JSON line (compose restarts it), rather
// than leaving it running in an unknown state.
process.on("uncaughtException", (err) => {
  logger.error("uncaught exception", { error: err, stack: err.stack });
  process.exit(1);
});
process.on("unhandledRejection", (reason) => {
  logger.error("unhandled rejection", { error: reason instanceof Error ? reason : String(reason) });
  process.exit(1);
});

server.on("error", (err) => {
  logger.error("server error", { error: err, port: config.port });
  process.exit(1);
});

server.listen(config.port, () => {
  const address = server.address();
  logger.info("listening", {
    port: typeof address === "object" && address !== null ? address.port : config.port,
    service_id: config.serviceId,
    service_name: config.serviceName,
    hostname: identity.hostname,
    ip: identity.ip,
    zipkin_endpoint: config.zipkinEndpoint ?? null,
    node: process.version,
    pid: process.pid,
  });
});

const grpcService = startGrpcService({ config, identity, logger, tracing });
grpcService.then(
  (g) => logger.info("grpc listening", { port: g.port }),
  (err: unknown) => {
    logger.error("grpc server error", { error: err, port: config.grpcPort });
    process.exit(1);
  },
);

let stopping = false;
function onSignal(signal: NodeJS.Signals): void {
  if (stopping) {
    logger.warn("second signal during shutdown; exiting now", { signal });
    process.exit(1);
  }
  stopping = true;
  const deadlineMs = HARD_DEADLINE_MS + config.shutdownGraceMs;
  setTimeout(() => {
    logger.error("shutdown hard deadline reached; exiting", { deadline_ms: deadlineMs });
    process.exit(1);
  }, deadlineMs).unref();
  // gRPC health turns NOT_SERVING with /healthz; the gRPC port closes when the HTTP one has drained.
  void grpcService.then((g) => g.drain());
  // shutdown() closes the listening socket before its first await, so by the time this line is
  // logged no new connection is accepted.
  const stopped = shutdown({ server, lifecycle, tracing, logger, graceMs: config.shutdownGraceMs });
  logger.info("shutting down", { signal, grace_ms: config.shutdownGraceMs });
  stopped
    .then(async (result) => {
      await (await grpcService).close();
      logger.info("stopped", { signal, clean: result.clean, shutdown_ms: result.durationMs });
      process.exit(result.clean ? 0 : 1);
    })
    .catch((err: unknown) => {
      logger.error("shutdown failed", { error: err });
      process.exit(1);
    });
}

process.on("SIGTERM", onSignal);
process.on("SIGINT", onSignal);
