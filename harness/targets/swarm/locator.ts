// The swarm target's StackLocator (harness/stack/locator.ts): replicas, Envoy's URLs, published
// ports, desired state and the directory, all from the manager's task and node lists.
import type { StackLocator } from "../../stack/locator.ts";
import type { SwarmConnection } from "./connection.ts";
import { swarmDirectory, swarmServiceStates } from "./desired-state.ts";
import { publishedUrl, serviceTasks, stackService, stackServices, swarmAppliedScale, swarmEndpoints, swarmReplicas } from "./tasks.ts";

export function swarmLocator(conn: SwarmConnection, stack: string): StackLocator {
  return {
    where: `the swarm at ${conn.dockerHost}`,
    exists: async () => (await stackServices(conn.manager, stack)).length > 0,
    replicas: (service) => swarmReplicas(conn.manager, stack, service),
    endpoints: () => swarmEndpoints(conn.manager, stack, conn.managerAddress),
    publishedUrl: async (service, port) =>
      publishedUrl(await serviceTasks(conn.manager, stack, service), port, conn.managerAddress, stackService(stack, service)),
    serviceStates: (desired) => swarmServiceStates(conn.manager, stack, desired),
    directory: () => swarmDirectory(conn.manager, stack),
    // Swarm keeps each service's desired replicas itself: nothing to record.
    appliedScale: () => swarmAppliedScale(conn.manager, stack),
    recordScale: async () => {},
  };
}
