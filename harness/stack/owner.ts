// Who started a stack, written on every container as labels (docker-compose.yml maps these
// variables to `envoy-pipeline.*` labels), so that `ls` and `teardown --stale` need nothing but
// Docker: no state file can be lost or disagree with what runs.
import { hostname } from "node:os";
import { dirname } from "node:path";
import type { PipelineConfig } from "../config.ts";
import type { StackLifetime } from "../reaper/session.ts";

export const OWNER_LABELS = {
  /** Folder of the compose file the stack was started from (the checkout). */
  checkout: "envoy-pipeline.checkout",
  /** Jenkins' BUILD_TAG when a Jenkins build started it. */
  buildTag: "envoy-pipeline.build-tag",
  /** The harness process whose life bounds the stack (lifetime "process"), else empty. */
  pid: "envoy-pipeline.pid",
  /** The host that process runs on (a pid means nothing on another host). */
  host: "envoy-pipeline.host",
  /** "process" (removed with the process, by teardown or Ryuk), "kept" (--keep), "stages" (single stages). */
  lifetime: "envoy-pipeline.lifetime",
} as const;

/** The compose variables behind the labels. */
export function ownerEnv(config: PipelineConfig, lifetime: StackLifetime, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return {
    ENVOY_PIPELINE_CHECKOUT: dirname(config.composeFile),
    ENVOY_PIPELINE_BUILD_TAG: env.BUILD_TAG ?? "",
    // Only a stack that dies with its process names the process: a single stage's pid is gone as
    // soon as the stage ends, and would make its stack look abandoned.
    ENVOY_PIPELINE_OWNER_PID: lifetime === "process" ? String(process.pid) : "",
    ENVOY_PIPELINE_OWNER_HOST: hostname(),
    ENVOY_PIPELINE_LIFETIME: lifetime,
  };
}
