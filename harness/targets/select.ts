// The one place that picks the target and the discovery mode from the config; every stage and
// CLI command gets a Target from here and never branches on either.
import type Dockerode from "dockerode";
import { ConfigError, type PipelineConfig } from "../config.ts";
import { projectContainers } from "../stack/discover.ts";
import { composeTarget } from "./compose/target.ts";
import { dnsDiscovery, xdsDiscovery } from "./discovery.ts";
import { connectSwarm } from "./swarm/connection.ts";
import { swarmTarget } from "./swarm/target.ts";
import type { Discovery, Target } from "./target.ts";

/**
 * The config as the stack runs it, checked: a stack deployed with `--discovery xds` runs a control
 * plane, and the stages that come later in their own processes (scale, verify, a Jenkins step)
 * follow it without being told.
 */
export async function effectiveConfig(given: PipelineConfig, docker: Dockerode): Promise<PipelineConfig> {
  const config = await followDeployedDiscovery(given, docker);
  if (config.target === "swarm" && config.discovery === "xds") {
    throw new ConfigError(
      "discovery xds: only with target compose (the control plane reads one engine's events; a swarm uses DNS on tasks.<service>)",
    );
  }
  if (config.discovery === "dns" && Object.keys(config.weights).length > 0) {
    throw new ConfigError("weights: only with discovery xds (Envoy's DNS clusters give every replica the same weight)");
  }
  return config;
}

async function followDeployedDiscovery(config: PipelineConfig, docker: Dockerode): Promise<PipelineConfig> {
  if (config.discovery === "xds" || config.target === "swarm") return config;
  const running = (await projectContainers(docker, config.projectName, "control-plane")).some((c) => c.State.Running);
  return running ? { ...config, discovery: "xds" } : config;
}

/** The target the config names (a swarm: DOCKER_HOST's, or the throwaway cluster). */
export async function selectTarget(config: PipelineConfig, docker: Dockerode): Promise<Target> {
  const project = config.projectName;
  if (config.target === "swarm") return swarmTarget(await connectSwarm(docker), docker, project, config.waitTimeoutSeconds * 1000);
  return composeTarget(docker, project, discoveryFor(config, docker));
}

/** How Envoy learns a compose stack's replicas. */
export function discoveryFor(config: PipelineConfig, docker: Dockerode): Discovery {
  return config.discovery === "xds" ? xdsDiscovery(docker, config.projectName) : dnsDiscovery;
}
