// What every stage that touches the stack needs: the validated config, a Docker client on a
// running engine, and the base images the compose file should build from.
import type Dockerode from "dockerode";
import type { PipelineConfig } from "../config.ts";
import { docker, ensureDockerEngine } from "../docker/engine.ts";
import { resolveImages } from "../images/index.ts";
import { composeEnvironment } from "../stack/compose.ts";

export interface StageContext {
  config: PipelineConfig;
  docker: Dockerode;
  /** Variables for `docker compose`: base images, image tag, ports, project. */
  composeEnv: Record<string, string>;
  /** Whether the base images are the official ones (a registry is reachable) or local builds. */
  imageSource: "official" | "local";
}

export async function stageContext(config: PipelineConfig): Promise<StageContext> {
  await ensureDockerEngine();
  const images = await resolveImages();
  return {
    config,
    docker: docker(),
    composeEnv: composeEnvironment(config, images.env),
    imageSource: images.source,
  };
}
