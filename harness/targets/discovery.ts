// The two ways Envoy learns a compose stack's replicas, as strategies the compose target holds.
import type Dockerode from "dockerode";
import { drainThenStop } from "../xds/drain.ts";
import type { Discovery } from "./target.ts";

/** Envoy resolves each service by DNS: a removed replica leaves the answer and fails health checks. */
export const dnsDiscovery: Discovery = { beforeScale: async () => {} };

/** The xDS control plane: replicas that go away are drained in Envoy before they stop (harness/xds/drain.ts). */
export function xdsDiscovery(docker: Dockerode, project: string): Discovery {
  return {
    beforeScale: async (target) => {
      await drainThenStop(docker, project, target);
    },
  };
}
