// From a stack file (or the demo's built-in one) to the Stack model, through one path: parse with
// zod, then check against the team's compose file. Every error is one line naming the field.
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse } from "yaml";
import { ConfigError } from "../config.ts";
import { errorMessage, formatIssues } from "../lib/errors.ts";
import { type ComposeServices, readCompose } from "./compose.ts";
import { DEMO_SOURCE, demoStackFile } from "./demo.ts";
import {
  DEFAULT_HEALTH,
  DEFAULT_REPLICAS,
  HTTP_LISTENER_PORT,
  type Policy,
  routeOrder,
  routeTakes,
  type Stack,
  type StackService,
} from "./model.ts";
import { stackFileSchema, type StackServiceInput } from "./schema.ts";

/** The stack file is wrong: bad input (exit 2), one line naming the file and the field. */
export class StackFileError extends ConfigError {
  override name = "StackFileError";
}

/** The file compose would find: `envoy-pipeline.yaml` in the working folder. */
export const STACK_FILE_NAME = "envoy-pipeline.yaml";

function policyOf(s: StackServiceInput): Policy {
  if (s.policy === "ring_hash") return { kind: "ring_hash", hashHeader: s.hashHeader ?? "" };
  return { kind: s.policy ?? "round_robin" };
}

function portOf(name: string, s: StackServiceInput, compose: ComposeServices, fail: (field: string, msg: string) => never): number {
  const ports = compose.ports.get(name) ?? [];
  const listed = ports.length === 0 ? "none" : ports.join(", ");
  if (s.port !== undefined) {
    if (!ports.includes(s.port))
      fail(`services.${name}.port`, `${s.port} is not exposed by ${name} in ${compose.file} (expose/ports: ${listed})`);
    return s.port;
  }
  if (ports.length !== 1)
    fail(`services.${name}.port`, `missing, and ${name} does not expose exactly one port in ${compose.file} (expose/ports: ${listed})`);
  return ports[0] as number;
}

/** The Stack of an already-parsed stack file object; `source` names it in errors, `baseDir` anchors its paths. */
export function compileStack(raw: unknown, source: string, baseDir: string): Stack {
  const fail = (field: string, msg: string): never => {
    throw new StackFileError(`${source}: ${field}: ${msg}`);
  };
  const parsed = stackFileSchema.safeParse(raw);
  if (!parsed.success) throw new StackFileError(`${source}: ${formatIssues(parsed.error).split("; ")[0]}`);
  const file = parsed.data;
  const composeFile = isAbsolute(file.compose) ? file.compose : resolve(baseDir, file.compose);
  if (!existsSync(composeFile)) fail("compose", `${composeFile} does not exist`);
  const compose = readCompose(composeFile);
  const services = Object.entries(file.services).map(([name, s], i): StackService => {
    if (!compose.ports.has(name))
      fail(`services.${name}`, `no such service in ${composeFile} (services: ${[...compose.ports.keys()].join(", ")})`);
    return {
      name,
      route: s.route,
      match: s.route.endsWith("/") ? "prefix" : "path_separated_prefix",
      ...(s.rewrite !== undefined ? { rewrite: s.rewrite } : {}),
      request: s.request ?? s.route,
      port: portOf(name, s, compose, fail),
      health: s.health ?? DEFAULT_HEALTH,
      replicas: s.replicas ?? DEFAULT_REPLICAS,
      policy: policyOf(s),
      weights: s.weights ?? {},
      protocol: s.protocol ?? "http1",
      expect: {
        ...(s.expect?.status !== undefined ? { status: s.expect.status } : {}),
        ...(s.expect?.body !== undefined ? { body: s.expect.body } : {}),
      },
      ...(s.metrics !== undefined ? { metrics: s.metrics } : {}),
      propagatesTrace: s.propagatesTrace ?? false,
      tcpPort: HTTP_LISTENER_PORT + 1 + i,
    };
  });
  checkRoutes(services, fail);
  const envoyConfig = file.envoy === undefined ? undefined : isAbsolute(file.envoy) ? file.envoy : resolve(baseDir, file.envoy);
  if (envoyConfig !== undefined && !existsSync(envoyConfig)) fail("envoy", `${envoyConfig} does not exist`);
  return { source, composeFile, ...(envoyConfig !== undefined ? { envoyConfig } : {}), services };
}

/**
 * Routes are tried longest first (routeOrder), so `/api/` beside `/api/orders/` is fine. Two
 * routes that match the same paths (equal once a trailing '/' is dropped) are a collision, and a
 * service's `request` must reach that service.
 */
function checkRoutes(services: StackService[], fail: (field: string, msg: string) => never): void {
  const seen = new Map<string, string>();
  for (const s of services) {
    const key = s.route.replace(/\/+$/, "") || "/";
    const other = seen.get(key);
    if (other !== undefined)
      fail(`services.${s.name}.route`, `'${s.route}' collides with services.${other}.route (both match the same paths)`);
    seen.set(key, s.name);
  }
  const ordered = routeOrder(services);
  for (const s of services) {
    const taker = ordered.find((r) => routeTakes(r, s.request));
    if (taker?.name !== s.name) {
      fail(`services.${s.name}.request`, `'${s.request}' is routed to ${taker ? taker.name : "no service"}, not ${s.name}`);
    }
  }
}

/** Reads and compiles a stack file (YAML, or JSON, which is YAML too). */
export function loadStackFile(file: string): Stack {
  const path = resolve(file);
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new StackFileError(`${path}: ${errorMessage(err).split("\n")[0]}`);
  }
  return compileStack(raw, path, dirname(path));
}

export function demoStack(): Stack {
  return compileStack(demoStackFile(), DEMO_SOURCE, demoStackFile.baseDir);
}

/** Which stack file applies: --stack, then ENVOY_PIPELINE_STACK, then ./envoy-pipeline.yaml; undefined: the demo. */
export function findStackFile(opts: { flag?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): string | undefined {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const named = opts.flag ?? (env.ENVOY_PIPELINE_STACK || undefined);
  if (named !== undefined) {
    const path = resolve(cwd, named);
    if (!existsSync(path)) throw new StackFileError(`stack: ${path} does not exist`);
    return path;
  }
  const local = resolve(cwd, STACK_FILE_NAME);
  return existsSync(local) ? local : undefined;
}

/** The stack the run is about: the file found by findStackFile, else the built-in demo. */
export function loadStack(opts: { flag?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Stack {
  const file = findStackFile(opts);
  return file === undefined ? demoStack() : loadStackFile(file);
}
