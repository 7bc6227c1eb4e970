// `envoy-pipeline control-plane`: the xDS control plane as a plain process (tests, a developer's
// machine) or as the stack's `control-plane` container (docker-compose.xds.yml). Endpoints come
// from Docker events for one compose project.
import type { Command } from "commander";
import { once } from "node:events";
import { z } from "zod";
import { ConfigError, parseAssignments, projectNameSchema } from "../config.ts";
import { exitCodeOf, formatIssues } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { GRPC_SERVICE_PORT, routeFor } from "../stack/routes.ts";
import { CONTROL_PLANE_ADMIN_PORT } from "./admin-http.ts";
import type { FrontProxySpec } from "./resources.ts";

/** Ports inside the stack (docker-compose.xds.yml and envoy/envoy-xds.yaml use the same). */
export const CONTROL_PLANE_GRPC_PORT = 18000;

const port = z.coerce.number().int().min(0).max(65535);

const optionsSchema = z.object({
  project: projectNameSchema,
  services: z.array(z.string().regex(/^service\d+$/, "must be a routed service name such as service1")).min(1),
  host: z.string().min(1),
  grpcPort: port,
  adminPort: port,
  servicePort: port,
  listenerPort: port,
  zipkin: z.union([z.literal("none"), z.string().regex(/^[^:\s]+:\d+$/, "must be HOST:PORT or none")]),
  lbPolicy: z.enum(["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM"]),
  tcpPorts: z.record(z.string(), z.number().int().min(1).max(65535)),
  weights: z.record(z.string(), z.number().int().min(1).max(1000)),
});
export type ControlPlaneCliOptions = z.infer<typeof optionsSchema>;

export interface RawOptions {
  project?: string;
  services?: string;
  host?: string;
  grpcPort?: string;
  adminPort?: string;
  servicePort?: string;
  listenerPort?: string;
  zipkin?: string;
  lbPolicy?: string;
  tcpPort?: string[];
  weight?: string[];
}

/**
 * Flags to validated options; ConfigError names the field. From the environment (the container's
 * way): COMPOSE_PROJECT_NAME or ENVOY_PIPELINE_PROJECT, and XDS_WEIGHTS when no --weight is given.
 */
export function parseControlPlaneOptions(raw: RawOptions, env: NodeJS.ProcessEnv = process.env): ControlPlaneCliOptions {
  const project = raw.project ?? env.ENVOY_PIPELINE_PROJECT ?? env.COMPOSE_PROJECT_NAME;
  if (project === undefined || project === "") throw new ConfigError("control-plane: --project (or COMPOSE_PROJECT_NAME) is required");
  const parsed = optionsSchema.safeParse({
    project,
    services: (raw.services ?? "service1,service2")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
    host: raw.host ?? "0.0.0.0",
    grpcPort: raw.grpcPort ?? CONTROL_PLANE_GRPC_PORT,
    adminPort: raw.adminPort ?? CONTROL_PLANE_ADMIN_PORT,
    servicePort: raw.servicePort ?? 8080,
    listenerPort: raw.listenerPort ?? 8080,
    zipkin: raw.zipkin ?? "zipkin:9411",
    lbPolicy: raw.lbPolicy ?? "ROUND_ROBIN",
    tcpPorts: parseAssignments("tcpPorts", raw.tcpPort ?? [], "SERVICE=PORT"),
    weights: parseAssignments("weights", raw.weight ?? (env.XDS_WEIGHTS ? [env.XDS_WEIGHTS] : []), "NAME=WEIGHT"),
  });
  if (!parsed.success) throw new ConfigError(`control-plane: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

export function frontProxySpec(o: ControlPlaneCliOptions): FrontProxySpec {
  const zipkin = o.zipkin === "none" ? undefined : { host: o.zipkin.split(":")[0]!, port: Number(o.zipkin.split(":")[1]) };
  return {
    httpPort: o.listenerPort,
    bindAddress: "0.0.0.0",
    lbPolicy: o.lbPolicy,
    // Every service gets its L4 listener, on the stack's port (as in envoy.yaml) unless --tcp-port says otherwise.
    services: o.services.map((s) => ({
      cluster: routeFor(s).cluster,
      path: routeFor(s).path,
      tcpPort: o.tcpPorts[s] ?? routeFor(s).tcpPort,
      grpc: { port: GRPC_SERVICE_PORT, tcpPort: routeFor(s).grpcTcpPort },
    })),
    ...(zipkin ? { zipkin } : {}),
  };
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerControlPlaneCommand(program: Command): void {
  program
    .command("control-plane")
    .description("xDS control plane (ADS, gRPC) for the front proxy, with endpoints from Docker events")
    .option("--project <name>", "compose project whose replicas are the endpoints (default: COMPOSE_PROJECT_NAME)")
    .option("--services <list>", "compose services to serve, comma-separated (default service1,service2)")
    .option("--host <address>", "address to listen on (default 0.0.0.0)")
    .option("--grpc-port <n>", `ADS port (default ${CONTROL_PLANE_GRPC_PORT}; 0 = a free one)`)
    .option("--admin-port <n>", `HTTP port for /status, /healthz, /drain (default ${CONTROL_PLANE_ADMIN_PORT})`)
    .option("--service-port <n>", "port the replicas listen on (default 8080)")
    .option("--listener-port <n>", "port of Envoy's HTTP listener (default 8080)")
    .option("--tcp-port <service=port>", "port of a service's L4 (tcp_proxy) listener (default 8080 + N for serviceN), repeatable", collect)
    .option(
      "--weight <replica-or-service=weight>",
      "load-balancing weight of a container or of every replica of a service, repeatable",
      collect,
    )
    .option("--zipkin <host:port|none>", "Zipkin collector for Envoy's traces (default zipkin:9411)")
    .option("--lb-policy <policy>", "ROUND_ROBIN, LEAST_REQUEST or RANDOM (default ROUND_ROBIN)")
    .action(async (raw: RawOptions) => {
      try {
        await runControlPlane(parseControlPlaneOptions(raw));
      } catch (err) {
        const e = err as Error;
        log.info(`error: ${e instanceof ConfigError ? e.message : (e.stack ?? e.message)}`);
        process.exitCode = exitCodeOf(e);
      }
    });
}

async function runControlPlane(o: ControlPlaneCliOptions): Promise<void> {
  const [{ docker }, { adminServer }, { ControlPlane }, { DockerEndpoints }] = await Promise.all([
    import("../docker/engine.ts"),
    import("./admin-http.ts"),
    import("./control-plane.ts"),
    import("./docker-source.ts"),
  ]);
  const source = new DockerEndpoints(docker(), {
    project: o.project,
    services: o.services,
    port: o.servicePort,
    weights: o.weights,
    log: log.info,
  });
  const cp = await new ControlPlane({ spec: frontProxySpec(o), source, host: o.host, port: o.grpcPort, log: log.info }).start();
  const admin = adminServer(cp);
  admin.listen(o.adminPort, o.host);
  await once(admin, "listening");
  const adminPort = (admin.address() as { port: number }).port;
  log.info(
    `control plane for project ${o.project}: ADS on ${o.host}:${cp.port}, admin on ${o.host}:${adminPort} ` +
      `(services ${o.services.join(", ")})`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  log.info(`${signal}: stopping the control plane`);
  admin.close();
  await cp.close();
}
