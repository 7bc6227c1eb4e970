// The gRPC face of a replica, over h2c on a port of its own (GRPC_PORT, default 50051):
//
//   envoypipeline.v1.Whoami/Get   the same identity as GET /service/:id (hostname, ip, serviceid, time)
//   grpc.health.v1.Health         Check and Watch ("" and "envoypipeline.v1.Whoami"); NOT_SERVING while draining
//   grpc.reflection.v1(alpha)     server reflection, so grpcurl works without the .proto
//
// The .proto is loaded at start with @grpc/proto-loader (no code generation step): @grpc/reflection
// and grpc-health-check both take a proto-loader package definition, so one loader serves all three.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation, protoPath as healthProtoPath } from "grpc-health-check";
import type { ServiceConfig } from "./config.js";
import type { Identity } from "./identity.js";
import type { Logger } from "./logging.js";
import { SpanStatusCode } from "@opentelemetry/api";
import type { Tracing } from "./tracing.js";

export const WHOAMI_SERVICE = "envoypipeline.v1.Whoami";
export const WHOAMI_PROTO = fileURLToPath(new URL("../proto/envoypipeline/v1/whoami.proto", import.meta.url));

interface GetRequest {
  service_id?: string;
}
interface GetResponse {
  hostname: string;
  ip: string;
  serviceid: string;
  time: string;
}

export interface GrpcServiceOptions {
  config: ServiceConfig;
  identity: Identity;
  logger: Logger;
  tracing: Tracing;
  now?: () => Date;
  /** Address to bind (default 0.0.0.0; tests pass 127.0.0.1). */
  host?: string;
}

export interface GrpcService {
  server: grpc.Server;
  /** The bound port (GRPC_PORT, or the one picked for 0). */
  port: number;
  /** Health turns NOT_SERVING (Watch streams are told at once); calls are still answered. */
  drain(): void;
  /** Stops accepting, lets calls in flight finish for `timeoutMs`, then cuts them. */
  close(timeoutMs?: number): Promise<void>;
}

const packageDefinition = loadSync([WHOAMI_PROTO, healthProtoPath], { keepCase: true, defaults: true });

/** UTC `YYYY-MM-DD HH:MM:SS`, as the HTTP answer's `time`. */
const formatTime = (date: Date): string => date.toISOString().slice(0, 19).replace("T", " ");

/** gRPC metadata as the HTTP header shape the trace-context parser reads (B3 or W3C). */
function headersOf(metadata: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) if (typeof value === "string") out[key] = value;
  return out;
}

function whoamiHandler(options: GrpcServiceOptions): grpc.handleUnaryCall<GetRequest, GetResponse> {
  const { config, identity, logger, tracing } = options;
  const now = options.now ?? (() => new Date());
  return (call, callback) => {
    const span = tracing.startServerSpan(`${WHOAMI_SERVICE}/Get`, headersOf(call.metadata));
    const asked = call.request.service_id ?? "";
    const wrongService = asked !== "" && asked !== config.serviceId;
    const code = wrongService ? grpc.status.NOT_FOUND : grpc.status.OK;
    if (wrongService) {
      callback({ code, details: `this instance serves service ${config.serviceId}, not ${asked}` });
    } else {
      callback(null, { hostname: identity.hostname, ip: identity.ip, serviceid: config.serviceId, time: formatTime(now()) });
    }
    logger.debug("rpc", { method: `${WHOAMI_SERVICE}/Get`, grpc_status: code, span_id: span.spanContext().spanId });
    if (!span.isRecording()) return;
    span.setAttributes({
      replica: identity.hostname,
      "service.id": config.serviceId,
      "rpc.system": "grpc",
      "rpc.service": WHOAMI_SERVICE,
      "rpc.method": "Get",
      "rpc.grpc.status_code": String(code),
      "network.peer.address": call.getPeer(),
    });
    if (code !== grpc.status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: grpc.status[code] });
    span.end();
  };
}

export async function startGrpcService(options: GrpcServiceOptions): Promise<GrpcService> {
  const server = new grpc.Server();
  const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
    envoypipeline: { v1: { Whoami: grpc.ServiceClientConstructor } };
  };
  server.addService(loaded.envoypipeline.v1.Whoami.service, { Get: whoamiHandler(options) });
  const health = new HealthImplementation({ "": "SERVING", [WHOAMI_SERVICE]: "SERVING" });
  health.addToServer(server);
  new ReflectionService(packageDefinition).addToServer(server);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host ?? "0.0.0.0"}:${options.config.grpcPort}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
  return {
    server,
    port,
    drain() {
      health.setStatus("", "NOT_SERVING");
      health.setStatus(WHOAMI_SERVICE, "NOT_SERVING");
    },
    close(timeoutMs = 2500) {
      return new Promise<void>((resolve) => {
        const cut = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, timeoutMs);
        server.tryShutdown(() => {
          clearTimeout(cut);
          resolve();
        });
      });
    },
  };
}
