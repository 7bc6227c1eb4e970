// build: `docker compose build` of the stack's images, tagged for this run's project.
import { waitingFor } from "../log.ts";
import { runCompose } from "../stack/compose.ts";
import type { StageContext } from "./context.ts";

export interface BuildResult {
  seconds: number;
  pulled: boolean;
}

export async function build(ctx: StageContext): Promise<BuildResult> {
  const t0 = Date.now();
  // --pull refreshes the base images, which only makes sense when a registry serves them; the
  // air-gapped equivalents exist only locally and a pull would fail.
  const pull = ctx.imageSource === "official" && process.env.ENVOY_PIPELINE_NO_PULL !== "1";
  await waitingFor(`building images for ${ctx.config.projectName}${pull ? " (--pull)" : ""}`, () =>
    runCompose(ctx.config, ["build", ...(pull ? ["--pull"] : [])], ctx.composeEnv),
  );
  return { seconds: (Date.now() - t0) / 1000, pulled: pull };
}
