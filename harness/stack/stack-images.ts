// The images the stack builds (`docker compose build`), built only when one is missing: their tags are
// content hashes (harness/stack/image-tag.ts), so present means built from these inputs.
// Design notes: docs/stacks.md ("stack/stack-images.ts").
import { settings } from "../settings.ts";
import type Dockerode from "dockerode";
import type { PipelineConfig } from "../config.ts";
import { log, waitingFor } from "../lib/log.ts";
import { runCompose } from "./compose-cli.ts";

export interface StackImages {
  config: PipelineConfig;
  docker: Dockerode;
  composeEnv: Record<string, string>;
  /** The images the compose file builds, under their content tags. */
  images: string[];
  /** Whether the base images are the official ones (a registry serves them) or local builds. */
  imageSource: string;
}

async function allPresent(s: StackImages): Promise<boolean> {
  for (const ref of s.images) {
    try {
      await s.docker.getImage(ref).inspect();
    } catch {
      return false;
    }
  }
  return s.images.length > 0;
}

/** Builds the stack's images unless all are present; says whether it built and pulled. */
export async function ensureStackImages(s: StackImages): Promise<{ built: boolean; pulled: boolean }> {
  if (await allPresent(s)) {
    log.info(`images ${s.images.join(", ")} are up to date: nothing to build`);
    return { built: false, pulled: false };
  }
  // --pull refreshes the base images, which only makes sense when a registry serves them; the
  // air-gapped equivalents exist only locally and a pull would fail.
  const pull = s.imageSource === "official" && !settings().noPull;
  await waitingFor(`building images for ${s.config.projectName}${pull ? " (--pull)" : ""}`, () =>
    runCompose(s.config, ["build", ...(pull ? ["--pull"] : [])], s.composeEnv),
  );
  return { built: true, pulled: pull };
}
