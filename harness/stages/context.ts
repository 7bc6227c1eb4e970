// What every stage that touches the stack needs: the validated config, a Docker client on a
// running engine (never installed or started here: that is prepare's job), the base images the
// compose file builds from, and the content tag of the images it builds.
import type Dockerode from "dockerode";
import { ConfigError, type PipelineConfig } from "../config.ts";
import { docker, requireDockerEngine } from "../docker/engine.ts";
import { resolveImages } from "../images/index.ts";
import { formatIssues } from "../lib/errors.ts";
import type { StackLifetime } from "../reaper/session.ts";
import { builtImages, composeModelSchema, contentTag } from "../stack/image-tag.ts";
import type { StackLocator } from "../stack/locator.ts";
import { ownerEnv } from "../stack/owner.ts";
import { composeEnvironment, runCompose } from "../stack/compose-cli.ts";
import { effectiveConfig, selectTarget } from "../targets/select.ts";
import type { Target } from "../targets/target.ts";

export interface StageContext {
  config: PipelineConfig;
  docker: Dockerode;
  /** Variables for `docker compose`: base images, image tag, ports, project, owner labels. */
  composeEnv: Record<string, string>;
  /** Whether the base images are the official ones (a registry is reachable) or local builds. */
  imageSource: "official" | "local";
  /** How long the stack is meant to live: decides whether Ryuk may remove it (harness/reaper/session.ts). */
  lifetime: StackLifetime;
  /** The images the compose file builds, tagged with the content tag (`envoy-pipeline/service:<tag>`). */
  images: string[];
  /** Where the stack runs (compose or a swarm, picked once by harness/targets/select.ts). */
  target: Target;
  /** Where the stack's replicas, URLs and containers are found: `target.locator`. */
  locator: StackLocator;
}

/**
 * `extraEnv`: further variables for compose files that read them (overrides in tests).
 * `lifetime`: "stages" (default: a single stage, the stack outlives the process), "process"
 * (`pipeline`: removed when the process ends or dies), "kept" (`pipeline --keep`).
 */
export async function stageContext(
  given: PipelineConfig,
  extraEnv: Record<string, string> = {},
  opts: { lifetime?: StackLifetime } = {},
): Promise<StageContext> {
  await requireDockerEngine();
  const host = docker();
  const config = await effectiveConfig(given, host);
  const lifetime = opts.lifetime ?? "stages";
  const images = await resolveImages();
  const baseEnv = { ...composeEnvironment(config, images.env), ...ownerEnv(config, lifetime), ...extraEnv };
  // One `compose config`: the services (a scale map naming no service is a configuration error,
  // said now rather than after a wait timed out) and the build contexts the image tag hashes.
  const raw = await runCompose(config, ["config", "--format", "json"], { ...baseEnv, IMAGE_TAG: "content-tag" }, { captureStdout: true });
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (err) {
    throw new Error(`docker compose config --format json printed no JSON: ${(err as Error).message}`);
  }
  const parsed = composeModelSchema.safeParse(data);
  if (!parsed.success) throw new Error(`docker compose config --format json: unexpected shape: ${formatIssues(parsed.error)}`);
  const services = Object.keys(parsed.data.services);
  for (const name of Object.keys(config.scale)) {
    if (!services.includes(name)) {
      throw new ConfigError(`scale.${name}: no such service in ${config.composeFile} (services: ${services.sort().join(", ")})`);
    }
  }
  const baseIds = Object.fromEntries(Object.entries(images.images).map(([name, e]) => [name, e.id]));
  const tag = extraEnv.IMAGE_TAG ?? contentTag(parsed.data, baseIds);
  const composeEnv = { ...baseEnv, IMAGE_TAG: tag };
  const built = builtImages(parsed.data).map((ref) => ref.replace(/:content-tag$/, `:${tag}`));
  const target = await selectTarget(config, host);
  return { config, docker: host, composeEnv, imageSource: images.source, lifetime, images: built, target, locator: target.locator };
}
