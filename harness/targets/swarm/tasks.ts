// A swarm stack's replicas and Envoy's host ports, from the swarm's own task list (the manager's
// API), in the same shape as the compose target's discovery (harness/stack/discover.ts), so that
// verify compares the hostnames it sees with the running tasks exactly as it does with containers.
import type Dockerode from "dockerode";
import { z } from "zod";
import { formatIssues } from "../../lib/errors.ts";
import { DiscoveryError, type ReplicaContainer, type StackEndpoints } from "../../stack/discover.ts";
import { serviceOfTcpPort } from "../../stack/routes.ts";

/** The part of a swarm task (`GET /tasks`) the harness relies on. */
const taskSchema = z.object({
  ID: z.string(),
  Slot: z.number().int().optional(),
  NodeID: z.string().optional(),
  DesiredState: z.string(),
  CreatedAt: z.string().optional(),
  Status: z.object({
    State: z.string(),
    /** Swarm's reason for a failed or rejected task ("No such image: ...", "task: non-zero exit (1)"). */
    Err: z.string().optional(),
    Message: z.string().optional(),
    ContainerStatus: z.object({ ContainerID: z.string().optional() }).optional(),
    PortStatus: z
      .object({
        Ports: z
          .array(z.object({ TargetPort: z.number(), PublishedPort: z.number().optional(), PublishMode: z.string().optional() }))
          .optional(),
      })
      .optional(),
  }),
  NetworksAttachments: z
    .array(z.object({ Network: z.object({ Spec: z.object({ Name: z.string() }) }), Addresses: z.array(z.string()).optional() }))
    .optional(),
});
export type SwarmTask = z.infer<typeof taskSchema>;

/** Swarm's name for a stack's service. */
export const stackService = (stack: string, service: string): string => `${stack}_${service}`;

export function parseTasks(raw: unknown): SwarmTask[] {
  const parsed = z.array(taskSchema).safeParse(raw);
  if (!parsed.success) throw new DiscoveryError(`swarm task list: unexpected shape: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

/**
 * Running tasks as replicas. A task is "running" only once its container's health check passed
 * (swarm holds it in "starting" until then), so every replica here is healthy. The hostname is
 * the container's: Docker's default, the first 12 characters of the container id.
 */
export function replicasFromTasks(tasks: readonly SwarmTask[], stack: string, service: string): ReplicaContainer[] {
  const network = `${stack}_default`;
  return tasks
    .filter((t) => t.DesiredState === "running" && t.Status.State === "running")
    .map((t) => {
      const container = t.Status.ContainerStatus?.ContainerID;
      if (!container) throw new DiscoveryError(`task ${t.ID} of ${stackService(stack, service)} is running but names no container`);
      const address = t.NetworksAttachments?.find((a) => a.Network.Spec.Name === network)?.Addresses?.[0];
      if (!address) throw new DiscoveryError(`task ${t.ID} of ${stackService(stack, service)} has no address on ${network}`);
      return {
        name: `${stackService(stack, service)}.${t.Slot ?? 0}.${t.ID}`,
        hostname: container.slice(0, 12),
        ip: address.replace(/\/\d+$/, ""),
        service,
        number: t.Slot ?? 0,
        health: "healthy",
      };
    })
    .sort((a, b) => a.number - b.number);
}

const nodeListSchema = z.array(
  z.object({
    ID: z.string(),
    Description: z.object({ Hostname: z.string() }).optional(),
    Status: z.object({ State: z.string() }),
  }),
);

export interface SwarmNode {
  id: string;
  /** The node's hostname (the throwaway cluster's node container name). */
  hostname: string;
  /** ready, down, unknown, disconnected */
  state: string;
}

/** Every node the manager knows, by id. */
export async function swarmNodes(docker: Dockerode): Promise<Map<string, SwarmNode>> {
  const nodes = nodeListSchema.safeParse(await docker.listNodes());
  if (!nodes.success) throw new DiscoveryError(`swarm node list: unexpected shape: ${formatIssues(nodes.error)}`);
  return new Map(nodes.data.map((n) => [n.ID, { id: n.ID, hostname: n.Description?.Hostname ?? n.ID, state: n.Status.State }]));
}

/** Ids of the nodes the manager sees as ready. */
export async function readyNodes(docker: Dockerode): Promise<Set<string>> {
  return new Set([...(await swarmNodes(docker)).values()].filter((n) => n.state === "ready").map((n) => n.id));
}

/** Swarm's label naming the stack a service belongs to (set by `docker stack deploy`). */
export const STACK_LABEL = "com.docker.stack.namespace";

/** The stack's services, by their names in the stack file. */
export async function stackServices(docker: Dockerode, stack: string): Promise<string[]> {
  const list = z
    .array(z.object({ Spec: z.object({ Name: z.string() }) }))
    .safeParse(await docker.listServices({ filters: { label: [`${STACK_LABEL}=${stack}`] } }));
  if (!list.success) throw new DiscoveryError(`swarm service list: unexpected shape: ${formatIssues(list.error)}`);
  return list.data.map((s) => s.Spec.Name.slice(stack.length + 1)).sort();
}

/** The replicas each backend service (serviceN) of the stack is set to: swarm's own desired state. */
export async function swarmAppliedScale(docker: Dockerode, stack: string): Promise<Record<string, number>> {
  const list = z
    .array(
      z.object({ Spec: z.object({ Name: z.string(), Mode: z.object({ Replicated: z.object({ Replicas: z.number() }).optional() }) }) }),
    )
    .safeParse(await docker.listServices({ filters: { label: [`${STACK_LABEL}=${stack}`] } }));
  if (!list.success) throw new DiscoveryError(`swarm service list: unexpected shape: ${formatIssues(list.error)}`);
  const scale: Record<string, number> = {};
  for (const s of list.data) {
    const name = s.Spec.Name.slice(stack.length + 1);
    const replicas = s.Spec.Mode.Replicated?.Replicas;
    if (/^service\d+$/.test(name) && replicas !== undefined) scale[name] = replicas;
  }
  return scale;
}

/** Every task of a stack service (history included), wherever it is. */
export async function allServiceTasks(docker: Dockerode, stack: string, service: string): Promise<SwarmTask[]> {
  return parseTasks(await docker.listTasks({ filters: { service: [stackService(stack, service)] } }));
}

/**
 * A service's tasks on ready nodes. A task on a node that stopped answering keeps its last state
 * ("running", even desired "running") until the manager declares the node down and reschedules it:
 * it serves nothing, so it is no replica.
 */
export async function serviceTasks(docker: Dockerode, stack: string, service: string): Promise<SwarmTask[]> {
  const [tasks, ready] = await Promise.all([allServiceTasks(docker, stack, service), readyNodes(docker)]);
  return tasks.filter((t) => t.NodeID === undefined || t.NodeID === "" || ready.has(t.NodeID));
}

/** Running replicas of one stack service: the swarm counterpart of discover.ts runningReplicas. */
export async function swarmReplicas(docker: Dockerode, stack: string, service: string): Promise<ReplicaContainer[]> {
  return replicasFromTasks(await serviceTasks(docker, stack, service), stack, service);
}

/** The URL of a task's host-mode published port on `host` (the manager the ports are on). */
export function publishedUrl(tasks: readonly SwarmTask[], targetPort: number, host: string, what: string): string {
  for (const t of tasks.filter((x) => x.Status.State === "running")) {
    const port = t.Status.PortStatus?.Ports?.find((p) => p.TargetPort === targetPort && p.PublishMode === "host")?.PublishedPort;
    if (port) return `http://${host}:${port}`;
  }
  throw new DiscoveryError(`${what}: no running task publishes port ${targetPort} in host mode (was the stack deployed?)`);
}

/** Envoy's listener and admin URLs on the manager. */
export async function swarmEndpoints(
  docker: Dockerode,
  stack: string,
  managerHost: string,
  envoyService = "front-envoy",
): Promise<StackEndpoints> {
  const tasks = await serviceTasks(docker, stack, envoyService);
  const what = stackService(stack, envoyService);
  // Envoy's L4 listeners: every other published port that is a service's (routes.ts).
  const l4Urls: Record<string, string> = {};
  for (const t of tasks.filter((x) => x.Status.State === "running")) {
    for (const p of t.Status.PortStatus?.Ports ?? []) {
      const service = p.PublishMode === "host" && p.PublishedPort ? serviceOfTcpPort(p.TargetPort) : undefined;
      if (service && p.PublishedPort) l4Urls[service] ??= `http://${managerHost}:${p.PublishedPort}`;
    }
  }
  return { listenerUrl: publishedUrl(tasks, 8080, managerHost, what), adminUrl: publishedUrl(tasks, 9901, managerHost, what), l4Urls };
}
