// Running `docker compose` for one project of the stack. Testcontainers drives `up` (deploy,
// scale); build and the odd query go through the CLI directly, with the same environment.
import { basename, dirname } from "node:path";
import type { PipelineConfig } from "../config.ts";
import { runProcess } from "../lib/process.ts";

/**
 * The variables the compose file reads: project, host ports (empty = ephemeral) and the
 * base images chosen by the prepare stage (official ones, or their air-gapped equivalents).
 */
export function composeEnvironment(config: PipelineConfig, images: Record<string, string> = {}): Record<string, string> {
  return {
    ...images,
    COMPOSE_PROJECT_NAME: config.projectName,
    ENVOY_LISTENER_PORT: config.ports.listener === 0 ? "" : String(config.ports.listener),
    ENVOY_ADMIN_PORT: config.ports.admin === 0 ? "" : String(config.ports.admin),
  };
}

export class ComposeError extends Error {
  override name = "ComposeError";
}

/**
 * Runs `docker compose -p <project> -f <file> <args>`, streaming its output to stderr (progress for
 * a person) and resolving with stdout. Rejects with the command and its exit code on failure.
 */
export async function runCompose(
  config: PipelineConfig,
  args: readonly string[],
  env: Record<string, string>,
  opts: { captureStdout?: boolean } = {},
): Promise<string> {
  const files = [basename(config.composeFile), ...config.composeOverrides].flatMap((f) => ["-f", f]);
  const argv = ["compose", "-p", config.projectName, ...files, ...args];
  const r = await runProcess("docker", argv, {
    cwd: dirname(config.composeFile),
    env: { ...process.env, ...env },
    // Compose's own output is progress for a person: stderr, so stdout stays the harness's.
    stderr: "inherit",
    // In the harness's process group: a Ctrl-C in the terminal stops compose with the harness.
    ownGroup: false,
    ...(opts.captureStdout ? {} : { onData: (chunk: Buffer) => process.stderr.write(chunk) }),
  });
  if (r.spawnError) throw new ComposeError(`docker ${argv.join(" ")}: ${r.spawnError.message}`);
  if (r.code !== 0) throw new ComposeError(`docker ${argv.join(" ")} failed (${r.signal ?? `exit ${r.code}`})`);
  return opts.captureStdout ? r.stdout : "";
}
