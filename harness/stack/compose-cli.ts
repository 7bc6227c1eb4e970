// Running `docker compose` for one project of the stack. Testcontainers drives `up` (deploy,
// scale); build and the odd query go through the CLI directly, with the same environment.
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { ConfigError, type PipelineConfig } from "../config.ts";
import { runProcess } from "../lib/process.ts";
import { PipelineError } from "../lib/errors.ts";

/** Layered over the compose file for `discovery: xds` (the control plane; docs/xds.md). */
export const XDS_COMPOSE_FILE = "docker-compose.xds.yml";

/**
 * The compose files of the stack, as `-f` takes them (relative to the compose file's folder or
 * absolute): the file, the xds layer when discovery is xds, then the configured overrides.
 */
export function composeFiles(config: PipelineConfig): string[] {
  const xds: string[] = [];
  if (config.discovery === "xds") {
    const path = join(dirname(config.composeFile), XDS_COMPOSE_FILE);
    if (!existsSync(path)) throw new ConfigError(`discovery: xds needs ${XDS_COMPOSE_FILE} beside ${config.composeFile}`);
    xds.push(path);
  }
  return [basename(config.composeFile), ...xds, ...config.composeOverrides];
}

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
    // Read by the control plane in xds mode (docker-compose.xds.yml).
    XDS_WEIGHTS: Object.entries(config.weights)
      .map(([name, w]) => `${name}=${w}`)
      .join(","),
  };
}

export class ComposeError extends PipelineError {
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
  const files = composeFiles(config).flatMap((f) => ["-f", f]);
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
