// The pipeline's whole configuration: one zod-validated object, merged from defaults, an optional
// JSON config file, ENVOY_PIPELINE_* environment variables and CLI flags (later wins). Every bad
// value is reported with the path of the field and where it came from.
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { formatIssues, InputError } from "./lib/errors.ts";
import { repoRoot } from "./lib/paths.ts";
import { projectNameFromBuildTag } from "./lib/project-name.ts";

const port = z.number().int().min(0).max(65535);
const replicas = z.number().int().min(0).max(50);

/** Compose project names: lower-case letters, digits, dashes and underscores, starting alphanumeric. */
export const projectNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]*$/, "must be lower-case letters, digits, '-' or '_', starting with a letter or digit")
  .max(63);

export const configSchema = z
  .object({
    /** Compose file of the stack, relative to the current folder or absolute. */
    composeFile: z.string().min(1),
    /** Further compose files layered over it (`-f a -f b`), e.g. an override for one environment. */
    composeOverrides: z.array(z.string().min(1)),
    /**
     * Where the stack runs: `compose` (one Docker engine, the default) or `swarm` (a Docker Swarm
     * reached through DOCKER_HOST, or the throwaway cluster of `envoy-pipeline cluster up`).
     */
    target: z.enum(["compose", "swarm"]),
    /** Compose project name: unique per run so that two pipelines on one host never collide. */
    projectName: projectNameSchema,
    /** Replicas per compose service after the scale stage. */
    scale: z.record(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, "must be a compose service name"), replicas),
    ports: z
      .object({
        /** Host port for Envoy's listener on 127.0.0.1; 0 picks a free one. */
        listener: port,
        /** Host port for Envoy's admin interface on 127.0.0.1; 0 picks a free one. */
        admin: port,
      })
      .strict(),
    verify: z
      .object({
        /** Requests per service; 0 sizes the sample from the statistics (see harness/verify). */
        requests: z.number().int().min(0).max(10_000_000),
        /** Requests in flight at once (and keep-alive connections to Envoy). */
        concurrency: z.number().int().min(1).max(1024),
      })
      .strict(),
    tracing: z
      .object({
        /**
         * Percent of requests Envoy traces on its own (whole numbers 0-100), set at deploy through
         * Envoy's runtime (tracing.random_sampling, harness/envoy/tracing-sampling.ts). Requests
         * that carry a sampled B3 context are traced whatever the rate; the tracing check sends such.
         */
        sampling: z.number().int("must be a whole percentage").min(0).max(100),
      })
      .strict(),
    /** Leave the stack running after `pipeline`. */
    keep: z.boolean(),
    /** With teardown: also remove the images the compose file builds. */
    removeImages: z.boolean(),
    /** Where reports (JSON, JUnit, HTML) are written. */
    reportDir: z.string().min(1),
    /** Seconds any single wait (health, scale convergence) may take before the stage fails. */
    waitTimeoutSeconds: z.number().positive().max(3600),
    /**
     * How Envoy finds the replicas: `dns` (envoy/envoy.yaml, STRICT_DNS on the compose names) or
     * `xds` (the control plane programs Envoy over ADS, endpoints from Docker events; docs/xds.md).
     */
    discovery: z.enum(["dns", "xds"]),
    /**
     * xds only: load-balancing weights the control plane gives endpoints, per container name
     * (e.g. `<project>-service1-2`) or per compose service (all its replicas); 1 when absent.
     */
    weights: z.record(
      z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, "must be a container or compose service name"),
      z.number().int().min(1).max(1000),
    ),
  })
  .strict();

export type PipelineConfig = z.infer<typeof configSchema>;

/** A partial config as any single source may give it (nested objects partial too). */
export type ConfigLayer = {
  [K in keyof PipelineConfig]?: PipelineConfig[K] extends Record<string, unknown> ? Partial<PipelineConfig[K]> : PipelineConfig[K];
};

export class ConfigError extends InputError {
  override name = "ConfigError";
}

/** A compose project name derived from Jenkins' BUILD_TAG when set, else unique per process. */
export function defaultProjectName(env: NodeJS.ProcessEnv = process.env): string {
  const fromTag = projectNameFromBuildTag(env.BUILD_TAG ?? "");
  if (fromTag !== undefined) return fromTag;
  return `envoy-pipeline-${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
}

export function defaults(env: NodeJS.ProcessEnv = process.env): PipelineConfig {
  return {
    composeFile: resolve(repoRoot, "docker-compose.yml"),
    composeOverrides: [],
    target: "compose",
    projectName: defaultProjectName(env),
    scale: { service1: 3, service2: 3 },
    ports: { listener: 0, admin: 0 },
    verify: { requests: 0, concurrency: 8 },
    // 1 %: full tracing costs most of the machine under load (figures: docs/performance.md).
    tracing: { sampling: 1 },
    keep: false,
    removeImages: false,
    reportDir: resolve(process.cwd(), "reports"),
    waitTimeoutSeconds: 120,
    discovery: "dns",
    weights: {},
  };
}

/** Parses `service1=3,service2=2` (or several such strings) into a scale map. */
export function parseScale(specs: string | readonly string[]): Record<string, number> {
  return parseAssignments("scale", specs, "SERVICE=REPLICAS");
}

/** Names in NAME=NUMBER lists: compose service or container names (never `__proto__` and the like). */
const assignmentName = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * Parses `name=n,name=n` (or several such strings); errors name `field` and the part. Only whole
 * decimal numbers: `svc=` (an unset Jenkins variable), `0x10` and `1e1` are refused, not read as numbers.
 */
export function parseAssignments(field: string, specs: string | readonly string[], shape = "NAME=NUMBER"): Record<string, number> {
  const out = new Map<string, number>();
  const list = typeof specs === "string" ? [specs] : specs;
  for (const spec of list) {
    for (const part of spec.split(/[\s,]+/).filter((p) => p !== "")) {
      const m = /^([^=]+)=(.*)$/.exec(part);
      if (!m || m[1] === undefined || m[2] === undefined) {
        throw new ConfigError(`${field}: '${part}' is not ${shape}`);
      }
      if (!assignmentName.test(m[1])) throw new ConfigError(`${field}: '${m[1]}' is not a service or container name`);
      if (!/^[0-9]{1,9}$/.test(m[2])) throw new ConfigError(`${field}.${m[1]}: '${m[2]}' is not a whole decimal number`);
      out.set(m[1], Number(m[2]));
    }
  }
  return Object.fromEntries(out);
}

/**
 * Refuses a folder in a kernel file system (/proc, /sys, /dev): Node's recursive mkdir spins there
 * forever instead of failing.
 */
export function refuseKernelFolder(field: string, path: string): string {
  if (/^\/(proc|sys|dev)(\/|$)/.test(resolve(path)))
    throw new ConfigError(`${field}: ${resolve(path)} is in a kernel file system (/proc, /sys, /dev)`);
  return path;
}

const envNumber = (env: NodeJS.ProcessEnv, name: string): number | undefined => {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new ConfigError(`${name}: '${raw}' is not a number`);
  return n;
};

const envBool = (env: NodeJS.ProcessEnv, name: string): boolean | undefined => {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw new ConfigError(`${name}: '${raw}' is not a boolean (true/false)`);
};

/** The layer given by ENVOY_PIPELINE_* variables (COMPOSE_PROJECT_NAME is honoured as well). */
export function layerFromEnv(env: NodeJS.ProcessEnv = process.env): ConfigLayer {
  const layer: ConfigLayer = {};
  if (env.ENVOY_PIPELINE_COMPOSE_FILE) layer.composeFile = env.ENVOY_PIPELINE_COMPOSE_FILE;
  if (env.ENVOY_PIPELINE_TARGET) layer.target = env.ENVOY_PIPELINE_TARGET as PipelineConfig["target"];
  const project = env.ENVOY_PIPELINE_PROJECT ?? env.COMPOSE_PROJECT_NAME;
  if (project) layer.projectName = project;
  if (env.ENVOY_PIPELINE_SCALE) layer.scale = parseScale(env.ENVOY_PIPELINE_SCALE);
  const listener = envNumber(env, "ENVOY_PIPELINE_LISTENER_PORT");
  const admin = envNumber(env, "ENVOY_PIPELINE_ADMIN_PORT");
  if (listener !== undefined || admin !== undefined) {
    layer.ports = {};
    if (listener !== undefined) layer.ports.listener = listener;
    if (admin !== undefined) layer.ports.admin = admin;
  }
  const requests = envNumber(env, "ENVOY_PIPELINE_REQUESTS");
  const concurrency = envNumber(env, "ENVOY_PIPELINE_CONCURRENCY");
  if (requests !== undefined || concurrency !== undefined) {
    layer.verify = {};
    if (requests !== undefined) layer.verify.requests = requests;
    if (concurrency !== undefined) layer.verify.concurrency = concurrency;
  }
  const sampling = envNumber(env, "ENVOY_PIPELINE_TRACING_SAMPLING");
  if (sampling !== undefined) layer.tracing = { sampling };
  const keep = envBool(env, "ENVOY_PIPELINE_KEEP");
  if (keep !== undefined) layer.keep = keep;
  if (env.ENVOY_PIPELINE_REPORT_DIR) layer.reportDir = env.ENVOY_PIPELINE_REPORT_DIR;
  const wait = envNumber(env, "ENVOY_PIPELINE_WAIT_TIMEOUT");
  if (wait !== undefined) layer.waitTimeoutSeconds = wait;
  if (env.ENVOY_PIPELINE_DISCOVERY) layer.discovery = env.ENVOY_PIPELINE_DISCOVERY as PipelineConfig["discovery"];
  return layer;
}

/** Reads a JSON config file; its shape is checked (strictly) with the merged result. */
export function layerFromFile(path: string): ConfigLayer {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`config file ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = partialConfigSchema.safeParse(data);
  if (!parsed.success) throw new ConfigError(`config file ${path}: ${formatIssues(parsed.error)}`);
  const out = parsed.data as ConfigLayer;
  // Paths in a config file are relative to the file, as users expect.
  if (out.composeFile && !isAbsolute(out.composeFile)) out.composeFile = resolve(dirname(path), out.composeFile);
  if (out.composeOverrides) out.composeOverrides = out.composeOverrides.map((f) => resolve(dirname(path), f));
  if (out.reportDir && !isAbsolute(out.reportDir)) out.reportDir = resolve(dirname(path), out.reportDir);
  return out;
}

const partialConfigSchema = configSchema
  .extend({
    ports: configSchema.shape.ports.partial(),
    verify: configSchema.shape.verify.partial(),
    tracing: configSchema.shape.tracing.partial(),
  })
  .partial()
  .strict();

/** Merges layers (later wins; nested objects merged key by key; scale replaced whole) and validates. */
export function resolveConfig(...layers: ConfigLayer[]): PipelineConfig {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      if ((key === "ports" || key === "verify" || key === "tracing") && typeof value === "object" && value !== null) {
        merged[key] = { ...(merged[key] as object | undefined), ...value };
      } else {
        merged[key] = value;
      }
    }
  }
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(`invalid configuration: ${formatIssues(parsed.error)}`);
  const config = parsed.data;
  if (!isAbsolute(config.composeFile)) config.composeFile = resolve(config.composeFile);
  if (!existsSync(config.composeFile)) throw new ConfigError(`composeFile: ${config.composeFile} does not exist`);
  config.composeOverrides = config.composeOverrides.map((file, i) => {
    const path = resolve(file);
    if (!existsSync(path)) throw new ConfigError(`composeOverrides.${i}: ${path} does not exist`);
    return path;
  });
  if (!isAbsolute(config.reportDir)) config.reportDir = resolve(config.reportDir);
  refuseKernelFolder("reportDir", config.reportDir);
  return config;
}

/**
 * The usual resolution: defaults < config file < environment < CLI flags. `projectDefault`, when
 * given, replaces the per-run default project name with one derived from the compose file that
 * the layers chose (single stages share the checkout's stack: harness/stack/project.ts).
 */
export function loadConfig(
  opts: { file?: string; cli?: ConfigLayer; env?: NodeJS.ProcessEnv; projectDefault?: (composeFile: string) => string } = {},
): PipelineConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.ENVOY_PIPELINE_CONFIG;
  const base = defaults(env);
  const layers = [file ? layerFromFile(file) : {}, layerFromEnv(env), opts.cli ?? {}];
  if (opts.projectDefault) {
    const composeFile = layers.reduce<string>((f, l) => l.composeFile ?? f, base.composeFile);
    base.projectName = opts.projectDefault(dirname(resolve(composeFile)));
  }
  return resolveConfig(base, ...layers);
}
