// What every stage that touches the stack needs: the validated config, a Docker client on a
// running engine, and the base images the compose file should build from.
import type Dockerode from "dockerode";
import { ConfigError, type PipelineConfig } from "../config.ts";
import { docker, ensureDockerEngine } from "../docker/engine.ts";
import { resolveImages } from "../images/index.ts";
import { composeEnvironment, runCompose } from "../stack/compose.ts";
import { projectContainers } from "../stack/discover.ts";

/**
 * A stack deployed with `--discovery xds` runs a control plane: the stages that come later in
 * their own processes (scale, verify, a Jenkins step) follow it without being told.
 */
async function followDeployedDiscovery(config: PipelineConfig): Promise<PipelineConfig> {
  if (config.discovery === "xds") return config;
  const running = (await projectContainers(docker(), config.projectName, "control-plane")).some((c) => c.State.Running);
  return running ? { ...config, discovery: "xds" } : config;
}

export interface StageContext {
  config: PipelineConfig;
  docker: Dockerode;
  /** Variables for `docker compose`: base images, image tag, ports, project. */
  composeEnv: Record<string, string>;
  /** Whether the base images are the official ones (a registry is reachable) or local builds. */
  imageSource: "official" | "local";
}

/** `extraEnv`: further variables for compose files that read them (overrides in tests). */
export async function stageContext(given: PipelineConfig, extraEnv: Record<string, string> = {}): Promise<StageContext> {
  await ensureDockerEngine();
  const config = await followDeployedDiscovery(given);
  if (config.discovery === "dns" && Object.keys(config.weights).length > 0) {
    throw new ConfigError("weights: only with discovery xds (Envoy's DNS clusters give every replica the same weight)");
  }
  const images = await resolveImages();
  const composeEnv = { ...composeEnvironment(config, images.env), ...extraEnv };
  // A scale map naming no service of the compose file is a configuration error: say so now, not
  // after a stack was started and a wait timed out.
  const services = (await runCompose(config, ["config", "--services"], composeEnv, { captureStdout: true }))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  for (const name of Object.keys(config.scale)) {
    if (!services.includes(name)) {
      throw new ConfigError(`scale.${name}: no such service in ${config.composeFile} (services: ${services.join(", ")})`);
    }
  }
  return { config, docker: docker(), composeEnv, imageSource: images.source };
}
