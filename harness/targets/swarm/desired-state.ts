// The swarm counterparts of harness/stack/desired-state.ts and directory.ts.
// Design notes: docs/swarm.md ("targets/swarm/desired-state.ts").
import type Dockerode from "dockerode";
import { type ExtraContainer, logTail, type NotServing, type ServiceState } from "../../stack/desired-state.ts";
import { StackDirectory, type StackMember } from "../../stack/directory.ts";
import type { ReplicaContainer } from "../../stack/discover.ts";
import { allServiceTasks, type SwarmNode, type SwarmTask, stackService, stackServices, swarmNodes } from "./tasks.ts";

/** The task's container name on its node, as `docker ps` there shows it. */
export const taskContainerName = (t: SwarmTask, stack: string, service: string): string =>
  `${stackService(stack, service)}.${t.Slot ?? 0}.${t.ID}`;

/** The task's hostname: Docker's default for a swarm task is its container id's first 12 characters. */
const taskHostname = (t: SwarmTask): string => (t.Status.ContainerStatus?.ContainerID ?? "").slice(0, 12);

const taskIp = (t: SwarmTask, stack: string): string | null => {
  const address = t.NetworksAttachments?.find((a) => a.Network.Spec.Name === `${stack}_default`)?.Addresses?.[0];
  return address ? address.replace(/\/\d+$/, "") : null;
};

const nodeOf = (t: SwarmTask, nodes: ReadonlyMap<string, SwarmNode>): SwarmNode | undefined => (t.NodeID ? nodes.get(t.NodeID) : undefined);

/** Why a task of the desired set serves nothing: "task failed: non-zero exit (1) on node worker1", … */
export function whyTaskNotServing(t: SwarmTask, nodes: ReadonlyMap<string, SwarmNode>): string {
  const node = nodeOf(t, nodes);
  const where = node ? ` on node ${node.hostname}` : t.NodeID ? ` on node ${t.NodeID}` : " (not placed on any node yet)";
  if (t.Status.State === "running" && node && node.state !== "ready") {
    return `task running${where}, which is ${node.state} (the manager has not rescheduled it yet)`;
  }
  const reason = t.Status.Err || t.Status.Message;
  return `task ${t.Status.State}${reason ? `: ${reason}` : ""}${where}`;
}

/**
 * Splits a service's tasks into the desired replicas that serve, those that do not, and the
 * extras: running tasks beyond the desired count, and old tasks still running after swarm asked
 * them to stop (a rolling update or a scale-down that has not finished).
 */
export function classifySwarmService(
  service: string,
  desired: number,
  tasks: readonly SwarmTask[],
  nodes: ReadonlyMap<string, SwarmNode>,
  stack: string,
): ServiceState {
  const onReadyNode = (t: SwarmTask): boolean => {
    const node = nodeOf(t, nodes);
    return node !== undefined && node.state === "ready";
  };
  const canServe = (t: SwarmTask): boolean =>
    t.Status.State === "running" && onReadyNode(t) && taskIp(t, stack) !== null && taskHostname(t) !== "";
  const bySlot = (a: SwarmTask, b: SwarmTask): number =>
    (a.Slot ?? 0) - (b.Slot ?? 0) || (a.CreatedAt ?? "").localeCompare(b.CreatedAt ?? "");
  const current = tasks.filter((t) => t.DesiredState === "running").sort(bySlot);
  const serving: ReplicaContainer[] = [];
  const extras: ExtraContainer[] = [];
  for (const t of current.filter(canServe)) {
    if (serving.length < desired) {
      serving.push({
        name: taskContainerName(t, stack, service),
        hostname: taskHostname(t),
        ip: taskIp(t, stack) ?? "",
        service,
        number: t.Slot ?? 0,
        // Swarm holds a task in "starting" until its health check passes: a running one is healthy.
        health: "healthy",
      });
      continue;
    }
    extras.push({
      container: taskContainerName(t, stack, service),
      hostname: taskHostname(t),
      ip: taskIp(t, stack),
      why: `slot ${t.Slot ?? 0}, beyond the ${desired} desired replica${desired === 1 ? "" : "s"} of ${service}`,
    });
  }
  for (const t of tasks.filter((x) => x.DesiredState !== "running" && canServe(x))) {
    extras.push({
      container: taskContainerName(t, stack, service),
      hostname: taskHostname(t),
      ip: taskIp(t, stack),
      why: `still running although swarm asked it to ${t.DesiredState === "shutdown" ? "shut down" : `be ${t.DesiredState}`}`,
    });
  }
  const missing = Math.max(0, desired - serving.length);
  const notServing: NotServing[] = current
    .filter((t) => !canServe(t))
    .slice(0, missing)
    .map((t) => ({
      container: taskContainerName(t, stack, service),
      hostname: taskHostname(t),
      why: whyTaskNotServing(t, nodes),
      logTail: [],
    }));
  return { service, desired, serving, notServing, extras, absent: Math.max(0, missing - notServing.length) };
}

/** A task's log through the manager (`docker service logs` of one task). */
function readTaskLog(docker: Dockerode, taskId: string): (opts: Record<string, unknown>) => Promise<unknown> {
  // dockerode has Task#logs (GET /tasks/{id}/logs); its type declarations lack it.
  const task = docker.getTask(taskId) as unknown as { logs(opts: Record<string, unknown>): Promise<unknown> };
  return (opts) => task.logs(opts);
}

/** The state of every service in `desired`, from the manager's task and node lists. */
export async function swarmServiceStates(
  docker: Dockerode,
  stack: string,
  desired: Record<string, number>,
  logLines = 5,
): Promise<ServiceState[]> {
  const nodes = await swarmNodes(docker);
  return Promise.all(
    Object.entries(desired).map(async ([service, count]) => {
      const tasks = await allServiceTasks(docker, stack, service);
      const state = classifySwarmService(service, count, tasks, nodes, stack);
      const idOf = new Map(tasks.map((t) => [taskContainerName(t, stack, service), t.ID]));
      for (const n of state.notServing) n.logTail = await logTail(readTaskLog(docker, idOf.get(n.container) ?? ""), logLines);
      return state;
    }),
  );
}

/** Every task of the stack's services (history included) as a member: name, node, hostname, address. */
export function swarmMembers(
  tasksByService: ReadonlyMap<string, readonly SwarmTask[]>,
  nodes: ReadonlyMap<string, SwarmNode>,
  stack: string,
): StackMember[] {
  const members: StackMember[] = [];
  for (const [service, tasks] of tasksByService) {
    for (const t of tasks) {
      const hostname = taskHostname(t);
      if (hostname === "") continue; // never got a container: nothing can answer as it
      const node = nodeOf(t, nodes);
      const ip = t.Status.State === "running" ? taskIp(t, stack) : null;
      members.push({
        container: `${taskContainerName(t, stack, service)}${node ? ` on node ${node.hostname}` : ""}`,
        hostname,
        ips: ip ? [ip] : [],
        service,
      });
    }
  }
  // Running tasks first: an address reused by a later task names the one that holds it now.
  return members.sort((a, b) => b.ips.length - a.ips.length);
}

/** The stack's directory from the swarm: every task of every service of the stack. */
export async function swarmDirectory(docker: Dockerode, stack: string): Promise<StackDirectory> {
  const [nodes, services] = await Promise.all([swarmNodes(docker), stackServices(docker, stack)]);
  const lists = await Promise.all(services.map(async (s) => [s, await allServiceTasks(docker, stack, s)] as const));
  return new StackDirectory(swarmMembers(new Map(lists), nodes, stack));
}
