// A real stack for integration tests: built, deployed and torn down under a test project name.
import { after } from "node:test";
import { loadConfig, type PipelineConfig } from "../../harness/config.ts";
import { build } from "../../harness/stages/build.ts";
import { stageContext, type StageContext } from "../../harness/stages/context.ts";
import { deploy, type DeployResult } from "../../harness/stages/deploy.ts";
import { teardown } from "../../harness/stages/teardown.ts";
import { testProjectName } from "./names.ts";

export interface TestStack {
  ctx: StageContext;
  config: PipelineConfig;
  deployed: DeployResult;
}

/**
 * Builds and deploys the stack (optionally with extra compose files, e.g. an override) and
 * registers its teardown (images included) with node:test's `after`, so it goes whatever happens.
 */
export async function startTestStack(
  label: string,
  opts: { composeFile?: string; scale?: Record<string, number>; env?: Record<string, string> } = {},
): Promise<TestStack> {
  const config = loadConfig({
    env: {},
    cli: {
      projectName: testProjectName(label),
      ...(opts.composeFile ? { composeFile: opts.composeFile } : {}),
      ...(opts.scale ? { scale: opts.scale } : {}),
      waitTimeoutSeconds: 90,
    },
  });
  const ctx = await stageContext(config);
  Object.assign(ctx.composeEnv, opts.env ?? {});
  after(async () => {
    await teardown(ctx.docker, config.projectName, { removeImages: true });
  });
  await build(ctx);
  const deployed = await deploy(ctx);
  return { ctx, config, deployed };
}
