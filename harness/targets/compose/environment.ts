// The stack as a Testcontainers compose environment: the same files, variables and health-check
// waits for every stage that runs `docker compose up` (deploy, scale).
// First: it names the reaper image before "testcontainers" is loaded (harness/reaper/session.ts).
import { type StackLifetime, useReaper } from "../../reaper/session.ts";
import { dirname } from "node:path";
import { DockerComposeEnvironment } from "testcontainers";
import type { PipelineConfig } from "../../config.ts";
import { composeFiles } from "../../stack/compose-cli.ts";
import { ExplainedHealthCheckWait } from "./waits/health.ts";
import { StartedOnlyWait } from "./waits/started.ts";

/** What a compose environment needs of a stage's context. */
export interface ComposeStack {
  config: PipelineConfig;
  composeEnv: Record<string, string>;
  lifetime: StackLifetime;
}

/**
 * A compose environment for this project: same file, variables and health-check waits (but for
 * Zipkin's). Ryuk
 * (Testcontainers' reaper) is on when the stack lives and dies with this process.
 */
export function composeEnvironmentFor(ctx: ComposeStack): DockerComposeEnvironment {
  useReaper(ctx.lifetime);
  return (
    new DockerComposeEnvironment(dirname(ctx.config.composeFile), composeFiles(ctx.config))
      .withProjectName(ctx.config.projectName)
      .withEnvironment(ctx.composeEnv)
      .withDefaultWaitStrategy(new ExplainedHealthCheckWait())
      // Zipkin is off the request path: its first reader (verify's tracing check) waits for it.
      .withWaitStrategy("zipkin-1", new StartedOnlyWait())
      .withStartupTimeout(ctx.config.waitTimeoutSeconds * 1000)
  );
}
