// A real stack for integration tests: built, deployed and torn down under a test project name.
// Its reports go to a temporary folder (never the checkout's reports/), removed by stop(); the
// stack lives as long as the test process (Ryuk removes it if the test run is killed).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type PipelineConfig } from "../../harness/config.ts";
import { docker } from "../../harness/docker/engine.ts";
import { build } from "../../harness/stages/build.ts";
import { stageContext, type StageContext } from "../../harness/stages/context.ts";
import { deploy, type DeployResult } from "../../harness/stages/deploy.ts";
import { teardown } from "../../harness/stack/teardown.ts";
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
  const reportDir = mkdtempSync(join(tmpdir(), "ept-reports-"));
  const config = loadConfig({
    env: {},
    cli: {
      projectName: testProjectName(label),
      reportDir,
      ...(opts.composeFile ? { composeFile: opts.composeFile } : {}),
      ...(opts.composeOverrides ? { composeOverrides: opts.composeOverrides } : {}),
      ...(opts.scale ? { scale: opts.scale } : {}),
      ...(opts.discovery ? { discovery: opts.discovery } : {}),
      waitTimeoutSeconds: 90,
    },
  });
  const stop = async (): Promise<void> => {
    rmSync(reportDir, { recursive: true, force: true });
    await teardown(docker(), config.projectName);
  };
  let ctx: StageContext;
  try {
    ctx = await stageContext(config, opts.env ?? {}, { lifetime: "process" });
  } catch (err) {
    await stop();
    throw err;
  }
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
