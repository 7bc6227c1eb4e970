// A real stack for integration tests: built, deployed and torn down under a test project name.
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
  /** Removes the stack and its images; call it from the test file's `afterAll`. */
  stop(): Promise<void>;
}

/**
 * Builds and deploys the stack under a test project name. When that fails, it is torn down before
 * the error propagates; once it succeeded, the caller's `afterAll(() => stack?.stop())` removes it.
 * (Registered from the test file, not from inside the `beforeAll` hook that starts the stack.)
 */
export async function startTestStack(
  label: string,
  opts: {
    composeFile?: string;
    composeOverrides?: string[];
    scale?: Record<string, number>;
    env?: Record<string, string>;
    discovery?: "dns" | "xds";
    /** Runs once the project name is known, before anything is built (e.g. to write a config). */
    beforeDeploy?: (project: string) => void;
  } = {},
): Promise<TestStack> {
  const config = loadConfig({
    env: {},
    cli: {
      projectName: testProjectName(label),
      ...(opts.composeFile ? { composeFile: opts.composeFile } : {}),
      ...(opts.composeOverrides ? { composeOverrides: opts.composeOverrides } : {}),
      ...(opts.scale ? { scale: opts.scale } : {}),
      ...(opts.discovery ? { discovery: opts.discovery } : {}),
      waitTimeoutSeconds: 90,
    },
  });
  const ctx = await stageContext(config, opts.env ?? {});
  const stop = async (): Promise<void> => {
    await teardown(ctx.docker, config.projectName, { removeImages: true });
  };
  try {
    opts.beforeDeploy?.(config.projectName);
    await build(ctx);
    const deployed = await deploy(ctx);
    return { ctx, config, deployed, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
