// `envoy --mode validate` on a configuration before it is deployed: the stack's own Envoy image
// builds the whole configuration (unknown fields, bad types, missing clusters) without opening a
// listener. The text goes in as --config-yaml, so nothing is mounted and a remote engine works too.
import { hostname } from "node:os";
import type Dockerode from "dockerode";
import { ConfigError } from "../config.ts";
import { docker } from "../docker/engine.ts";

export interface EnvoyValidation {
  ok: boolean;
  /** Envoy's own words: the error line when it refused, else its "configuration ... OK" line. */
  message: string;
  output: string;
}

/** Envoy refused the configuration: bad input (exit 2), in Envoy's words. */
export class EnvoyConfigError extends ConfigError {
  override name = "EnvoyConfigError";
}

/** The line of Envoy's output that says why (it logs the exception before exiting 1). */
function reason(output: string): string {
  const lines = output.split("\n").map((l) => l.trim());
  const error = lines.find((l) => /\[(critical|error)\]/.test(l)) ?? lines.find((l) => /error|invalid|exception/i.test(l));
  return (error ?? lines.filter((l) => l !== "").pop() ?? "no output").replace(/^\[[^\]]*\]\s*(\[[^\]]*\]\s*)*/, "");
}

export async function validateEnvoyConfig(image: string, yaml: string, client: Dockerode = docker()): Promise<EnvoyValidation> {
  const container = await client.createContainer({
    Image: image,
    Entrypoint: ["envoy"],
    Cmd: ["--mode", "validate", "--config-yaml", yaml, "--log-level", "error"],
    // Owned like the stack's containers, so a killed run's leftover is found by `teardown --stale`.
    Labels: { "envoy-pipeline.pid": String(process.pid), "envoy-pipeline.host": hostname(), "envoy-pipeline.lifetime": "process" },
    HostConfig: { NetworkMode: "none" },
    // One raw stream: no multiplexing frames in the logs.
    Tty: true,
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const output = (await container.logs({ stdout: true, stderr: true })).toString("utf8").replace(/\r/g, "");
    return { ok: StatusCode === 0, message: StatusCode === 0 ? "configuration OK" : reason(output), output };
  } finally {
    await container.remove({ force: true });
  }
}

/** Validates, and throws EnvoyConfigError (one line) when Envoy refuses. */
export async function assertValidEnvoyConfig(image: string, yaml: string, what: string, client?: Dockerode): Promise<void> {
  const result = await validateEnvoyConfig(image, yaml, client);
  if (!result.ok) throw new EnvoyConfigError(`${what}: envoy --mode validate refused it: ${result.message}`);
}
