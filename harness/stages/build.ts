// build: `docker compose build` of the stack's images, tagged with the hash of their content.
import { log, waitingFor } from "../log.ts";
import { runCompose } from "../stack/compose.ts";
import type { StageContext } from "./context.ts";

export interface BuildResult {
  seconds: number;
  pulled: boolean;
}

/** Whether every image the stack builds is already there under its content tag. */
async function allPresent(ctx: StageContext): Promise<boolean> {
  for (const ref of ctx.images) {
    try {
      await ctx.docker.getImage(ref).inspect();
    } catch {
      return false;
    }
  }
  return ctx.images.length > 0;
}

export async function build(ctx: StageContext): Promise<BuildResult> {
  const t0 = Date.now();
  // Tags are content hashes (harness/stack/image-tag.ts): present means built from these inputs.
  if (await allPresent(ctx)) {
    log.info(`images ${ctx.images.join(", ")} are up to date: nothing to build`);
    return { seconds: (Date.now() - t0) / 1000, pulled: false };
  }
  // --pull refreshes the base images, which only makes sense when a registry serves them; the
  // air-gapped equivalents exist only locally and a pull would fail.
  const pull = ctx.imageSource === "official" && process.env.ENVOY_PIPELINE_NO_PULL !== "1";
  await waitingFor(`building images for ${ctx.config.projectName}${pull ? " (--pull)" : ""}`, () =>
    runCompose(ctx.config, ["build", ...(pull ? ["--pull"] : [])], ctx.composeEnv),
  );
  return { seconds: (Date.now() - t0) / 1000, pulled: pull };
}
