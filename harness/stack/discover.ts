// Finding a running stack from Docker alone, by compose labels, so that every stage (and a later
// process: `verify` after `deploy`, `teardown` after a crash) sees the same truth.
import type Dockerode from "dockerode";
import { z } from "zod";
import { formatIssues, PipelineError } from "../lib/errors.ts";
import { serviceOfGrpcTcpPort, serviceOfTcpPort } from "./routes.ts";

export const PROJECT_LABEL = "com.docker.compose.project";
export const SERVICE_LABEL = "com.docker.compose.service";
export const NUMBER_LABEL = "com.docker.compose.container-number";

/** The part of `docker inspect` the harness relies on; anything missing is reported by field. */
const inspectSchema = z.object({
  Id: z.string(),
  Name: z.string(),
  Created: z.string().default(""),
  State: z.object({
    Running: z.boolean(),
    Status: z.string(),
    Paused: z.boolean().default(false),
    Restarting: z.boolean().default(false),
    OOMKilled: z.boolean().default(false),
    Dead: z.boolean().default(false),
    ExitCode: z.number().int().default(0),
    Error: z.string().default(""),
    FinishedAt: z.string().default(""),
    Health: z
      .object({
        Status: z.string(),
        /** The last probes, oldest first: what a failing health check printed. */
        Log: z
          .array(z.object({ ExitCode: z.number().int(), Output: z.string() }))
          .nullable()
          .default([])
          .transform((l) => l ?? []),
      })
      .optional(),
  }),
  Config: z.object({
    Hostname: z.string(),
    Labels: z
      .record(z.string(), z.string())
      .nullable()
      .transform((l) => l ?? {}),
  }),
  NetworkSettings: z.object({
    Networks: z
      .record(z.string(), z.object({ IPAddress: z.string() }))
      .nullable()
      .transform((n) => n ?? {}),
    Ports: z
      .record(z.string(), z.array(z.object({ HostIp: z.string(), HostPort: z.string() })).nullable())
      .nullable()
      .transform((p) => p ?? {}),
  }),
});
export type ContainerInspect = z.infer<typeof inspectSchema>;

export class DiscoveryError extends PipelineError {
  override name = "DiscoveryError";
}

/** A running container of a compose service, as Docker reports it. */
export interface ReplicaContainer {
  /** Container name, e.g. envoy-pipeline-42-service1-2 */
  name: string;
  /** The container's hostname (Docker's short id): what the service answers in `hostname`. */
  hostname: string;
  /** Address on the project's compose network. */
  ip: string;
  service: string;
  /** Compose replica number (1-based). */
  number: number;
  health: string | undefined;
}

export async function inspectContainer(docker: Dockerode, id: string): Promise<ContainerInspect> {
  const raw: unknown = await docker.getContainer(id).inspect();
  const parsed = inspectSchema.safeParse(raw);
  if (!parsed.success) throw new DiscoveryError(`docker inspect ${id}: unexpected shape: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

/** Every container (running or not) of a compose project. */
export async function projectContainers(docker: Dockerode, project: string, service?: string): Promise<ContainerInspect[]> {
  const labels = [`${PROJECT_LABEL}=${project}`];
  if (service) labels.push(`${SERVICE_LABEL}=${service}`);
  const list = await docker.listContainers({ all: true, filters: { label: labels } });
  return Promise.all(list.map((c) => inspectContainer(docker, c.Id)));
}

/** `/stack-service1-1` → `stack-service1-1` */
export const containerName = (c: ContainerInspect): string => c.Name.replace(/^\//, "");

/**
 * The container's address on the network compose made for the project (`<project>_default`), else
 * on any network; null when it has none (disconnected, or not started).
 */
export function projectIp(c: ContainerInspect, project: string): string | null {
  const nets = Object.entries(c.NetworkSettings.Networks);
  const own = nets.find(([name]) => name.startsWith(`${project}_`)) ?? nets[0];
  return own && own[1].IPAddress !== "" ? own[1].IPAddress : null;
}

/** Whether the container can serve at all: running, not paused, not restarting, with an address. */
export function canServe(c: ContainerInspect, project: string): boolean {
  return c.State.Running && !c.State.Paused && !c.State.Restarting && projectIp(c, project) !== null;
}

export function toReplica(c: ContainerInspect, project: string, service: string): ReplicaContainer {
  return {
    name: containerName(c),
    hostname: c.Config.Hostname,
    ip: projectIp(c, project) ?? "",
    service,
    number: Number(c.Config.Labels[NUMBER_LABEL] ?? "0"),
    health: c.State.Health?.Status,
  };
}

/** Replicas of one compose service that can serve (see canServe), ordered by replica number. */
export async function runningReplicas(docker: Dockerode, project: string, service: string): Promise<ReplicaContainer[]> {
  const containers = await projectContainers(docker, project, service);
  return containers
    .filter((c) => canServe(c, project))
    .map((c) => toReplica(c, project, service))
    .sort((a, b) => a.number - b.number);
}

export interface StackEndpoints {
  /** Envoy's listener on the host, e.g. http://127.0.0.1:32768 */
  listenerUrl: string;
  /** Envoy's admin interface on the host. */
  adminUrl: string;
  /** Envoy's L4 (tcp_proxy) listeners on the host, by service (those front-envoy publishes). */
  l4Urls?: Record<string, string>;
  /** Envoy's gRPC L4 listeners on the host, by service (the connection-level trap for gRPC). */
  grpcL4Urls?: Record<string, string>;
}

/** Host URLs of Envoy's listener and admin, read from the front-envoy container's port bindings. */
export async function stackEndpoints(docker: Dockerode, project: string, envoyService = "front-envoy"): Promise<StackEndpoints> {
  const [envoy] = (await projectContainers(docker, project, envoyService)).filter((c) => c.State.Running);
  if (!envoy) throw new DiscoveryError(`no running ${envoyService} container in compose project '${project}' (was it deployed?)`);
  const hostUrl = (containerPort: number): string => {
    const binding = envoy.NetworkSettings.Ports[`${containerPort}/tcp`]?.[0];
    if (!binding) throw new DiscoveryError(`${envoyService} does not publish port ${containerPort} on the host`);
    const host = binding.HostIp === "" || binding.HostIp === "0.0.0.0" ? "127.0.0.1" : binding.HostIp;
    return `http://${host}:${binding.HostPort}`;
  };
  const l4Urls: Record<string, string> = {};
  const grpcL4Urls: Record<string, string> = {};
  for (const [key, bindings] of Object.entries(envoy.NetworkSettings.Ports)) {
    if (!/^\d+\/tcp$/.test(key) || !bindings?.[0]) continue;
    const port = Number.parseInt(key, 10);
    const service = serviceOfTcpPort(port);
    if (service) l4Urls[service] = hostUrl(port);
    const grpcService = serviceOfGrpcTcpPort(port);
    if (grpcService) grpcL4Urls[grpcService] = hostUrl(port);
  }
  return { listenerUrl: hostUrl(8080), adminUrl: hostUrl(9901), l4Urls, grpcL4Urls };
}

/** The host URL of `containerPort` published by the running container of a compose service. */
export async function publishedUrl(docker: Dockerode, project: string, service: string, containerPort: number): Promise<string> {
  const [container] = (await projectContainers(docker, project, service)).filter((c) => c.State.Running);
  if (!container) throw new DiscoveryError(`no running ${service} container in compose project '${project}' (was it deployed?)`);
  const binding = container.NetworkSettings.Ports[`${containerPort}/tcp`]?.[0];
  if (!binding) throw new DiscoveryError(`${service} does not publish port ${containerPort} on the host`);
  const host = binding.HostIp === "" || binding.HostIp === "0.0.0.0" ? "127.0.0.1" : binding.HostIp;
  return `http://${host}:${binding.HostPort}`;
}
