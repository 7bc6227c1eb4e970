// The stack as one model, read from the files the compose target runs, so that every other target
// (swarm stack file, Kubernetes manifests) renders the same services instead of a copy that drifts.
// Design notes: docs/stacks.md ("render/model.ts").
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { ConfigError } from "../config.ts";
import { formatIssues } from "../lib/errors.ts";
import { routeFor, type ServiceRoute } from "../stack/routes.ts";

export const ENVOY_SERVICE = "front-envoy";
export const PROMETHEUS_SERVICE = "prometheus";
export const ZIPKIN_SERVICE = "zipkin";

/** The compose file does not describe the stack the targets need: bad input (exit 2). */
export class ModelError extends ConfigError {
  override name = "ModelError";
}

const environmentSchema = z
  .union([z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])), z.array(z.string())])
  .optional()
  .transform((env): Record<string, string> => {
    if (env === undefined) return {};
    if (Array.isArray(env)) return Object.fromEntries(env.map((kv) => [kv.split("=")[0] ?? kv, kv.slice(kv.indexOf("=") + 1)]));
    return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
  });

const composeServiceSchema = z.object({
  image: z.string().optional(),
  build: z.object({ context: z.string(), args: z.record(z.string(), z.string()).optional() }).optional(),
  environment: environmentSchema,
  expose: z.array(z.union([z.string(), z.number()])).optional(),
  ports: z.array(z.string()).optional(),
});
const composeFileSchema = z.object({ services: z.record(z.string(), composeServiceSchema) });
type ComposeService = z.infer<typeof composeServiceSchema>;

/** `${VAR:-default}`, `${VAR-default}` and `${VAR}` as compose reads them, from `vars` only. */
export function interpolate(text: string, vars: Record<string, string>): string {
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g,
    (_m, name: string, op: string | undefined, fallback: string | undefined) => {
      const value = vars[name];
      if (op === ":-") return value !== undefined && value !== "" ? value : (fallback ?? "");
      if (op === "-") return value ?? fallback ?? "";
      return value ?? "";
    },
  );
}

/** A container port from a compose `ports` entry ("127.0.0.1:${X:-}:8080", "8080/tcp") or `expose`. */
function containerPort(spec: string | number): number {
  const m = /(\d+)(?:\/tcp)?$/.exec(String(spec));
  if (!m?.[1]) throw new ModelError(`port '${spec}' has no container port`);
  return Number(m[1]);
}

export interface BackendModel {
  name: string;
  route: ServiceRoute;
  /** The image compose builds for it, tagged with `imageTag`. */
  image: string;
  port: number;
  /** The service's contract (services/README.md): 200 while it serves, 503 while draining. */
  healthPath: "/healthz";
  environment: Record<string, string>;
  replicas: number;
}

export interface ConfiguredComponent {
  name: string;
  /** The image compose builds: the base image with this stack's configuration baked in. */
  image: string;
  /** The base (official) image the build starts from: runs with the configuration mounted instead. */
  baseImage: string;
  /** The configuration file's text, as the compose target uses it. */
  config: string;
  ports: number[];
}

export interface StackModel {
  backends: BackendModel[];
  envoy: ConfiguredComponent;
  prometheus: ConfiguredComponent;
  zipkin: { name: string; image: string; environment: Record<string, string>; port: number };
}

export interface ModelOptions {
  composeFile: string;
  /** Replicas per backend service (the config's `scale`). */
  scale: Record<string, number>;
  /** Value of compose's IMAGE_TAG (the compose target uses the project name). */
  imageTag: string;
  /** Further compose variables (base images of the air-gapped build, for example). */
  vars?: Record<string, string>;
}

export function readStackModel(opts: ModelOptions): StackModel {
  const dir = dirname(opts.composeFile);
  const vars = { IMAGE_TAG: opts.imageTag, ...(opts.vars ?? {}) };
  let raw: unknown;
  try {
    raw = parse(readFileSync(opts.composeFile, "utf8"), { merge: true });
  } catch (err) {
    throw new ModelError(`${opts.composeFile}: ${(err as Error).message}`);
  }
  const parsed = composeFileSchema.safeParse(raw);
  if (!parsed.success) throw new ModelError(`${opts.composeFile}: ${formatIssues(parsed.error)}`);
  const services = parsed.data.services;
  const service = (name: string): ComposeService => {
    const s = services[name];
    if (!s) throw new ModelError(`${opts.composeFile}: no service '${name}' (services: ${Object.keys(services).join(", ")})`);
    return s;
  };
  const image = (name: string): string => {
    const s = service(name);
    if (!s.image) throw new ModelError(`${opts.composeFile}: services.${name}.image is missing`);
    return interpolate(s.image, vars);
  };
  const baseImage = (name: string, arg: string): string => {
    const value = service(name).build?.args?.[arg];
    if (value === undefined) throw new ModelError(`${opts.composeFile}: services.${name}.build.args.${arg} is missing`);
    return interpolate(value, vars);
  };
  const ports = (name: string): number[] => {
    const s = service(name);
    return [...(s.ports ?? []), ...(s.expose ?? [])].map(containerPort);
  };
  const configured = (name: string, arg: string, configFile: string): ConfiguredComponent => {
    const context = service(name).build?.context;
    if (context === undefined) throw new ModelError(`${opts.composeFile}: services.${name}.build.context is missing`);
    return {
      name,
      image: image(name),
      baseImage: baseImage(name, arg),
      config: readFileSync(resolve(dir, context, configFile), "utf8"),
      ports: ports(name),
    };
  };

  const backends = Object.entries(opts.scale).map(([name, replicas]): BackendModel => {
    const [port] = ports(name);
    if (port === undefined) throw new ModelError(`${opts.composeFile}: services.${name} exposes no port`);
    return {
      name,
      route: routeFor(name),
      image: image(name),
      port,
      healthPath: "/healthz",
      environment: Object.fromEntries(Object.entries(service(name).environment).map(([k, v]) => [k, interpolate(v, vars)])),
      replicas,
    };
  });
  const zipkin = service(ZIPKIN_SERVICE);
  const [zipkinPort] = ports(ZIPKIN_SERVICE);
  return {
    backends,
    envoy: configured(ENVOY_SERVICE, "ENVOY_IMAGE", "envoy.yaml"),
    prometheus: configured(PROMETHEUS_SERVICE, "PROMETHEUS_IMAGE", "prometheus.yml"),
    zipkin: {
      name: ZIPKIN_SERVICE,
      image: image(ZIPKIN_SERVICE),
      environment: Object.fromEntries(Object.entries(zipkin.environment).map(([k, v]) => [k, interpolate(v, vars)])),
      port: zipkinPort ?? 9411,
    },
  };
}
