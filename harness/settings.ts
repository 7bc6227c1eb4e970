// Process settings: the ENVOY_PIPELINE_* variables that tune how this process runs (what it deploys
// is config.ts's). Parsed once with zod; modules take the values, never process.env.
import { z } from "zod";
import { formatIssues, InputError } from "./lib/errors.ts";

const unset = (v: unknown): unknown => (v === "" ? undefined : v);
const yes = /^(1|true|yes)$/i;
const no = /^(0|false|no)$/i;
const flag = z.preprocess(unset, z.string().optional()).transform((v) => v !== undefined && yes.test(v));
const triState = z.preprocess(
  unset,
  z
    .string()
    .regex(new RegExp(`${yes.source}|${no.source}`, "i"), "must be 1, true, yes, 0, false or no")
    .optional()
    .transform((v) => (v === undefined ? undefined : yes.test(v))),
);

const settingsSchema = z.object({
  /** Stack traces with every error, not only internal ones. */
  ENVOY_PIPELINE_DEBUG: flag,
  /** Whether prepare may install or start Docker; unset: yes, except under Jenkins. */
  ENVOY_PIPELINE_PROVISION: triState,
  JENKINS_URL: z.preprocess(unset, z.string().optional()),
  /** The checkout's state folder instead of `.envoy-pipeline/` (the tests point it at a temporary one). */
  ENVOY_PIPELINE_STATE_DIR: z.preprocess(unset, z.string().optional()),
  /** How many image builds prepare runs at once. */
  ENVOY_PIPELINE_IMAGE_BUILDS: z.preprocess(unset, z.coerce.number().int().min(1).max(16).default(2)),
  /** The build cache kept by prepare's prune (a size, or "off"); build-cache.ts checks the form. */
  ENVOY_PIPELINE_BUILD_CACHE_KEEP: z.preprocess(unset, z.string().optional()),
  /** Build without `--pull` even when a registry serves the base images. */
  ENVOY_PIPELINE_NO_PULL: flag,
  /** The throwaway swarm cluster's name for `cluster up` / `cluster down` when --name is not given. */
  ENVOY_PIPELINE_CLUSTER: z.preprocess(unset, z.string().optional()),
});

export interface ProcessSettings {
  debug: boolean;
  /** `undefined`: not said, so the default applies (see provisioningAllowed). */
  provision: boolean | undefined;
  underJenkins: boolean;
  stateDir: string | undefined;
  imageBuilds: number;
  buildCacheKeep: string | undefined;
  noPull: boolean;
  cluster: string | undefined;
}

/** Parses the process settings out of `env`; a bad value is an InputError that names the variable. */
export function parseSettings(env: NodeJS.ProcessEnv): ProcessSettings {
  const r = settingsSchema.safeParse(env);
  if (!r.success) throw new InputError(`bad environment: ${formatIssues(r.error)}`);
  const e = r.data;
  return {
    debug: e.ENVOY_PIPELINE_DEBUG,
    provision: e.ENVOY_PIPELINE_PROVISION,
    underJenkins: e.JENKINS_URL !== undefined,
    stateDir: e.ENVOY_PIPELINE_STATE_DIR,
    imageBuilds: e.ENVOY_PIPELINE_IMAGE_BUILDS,
    buildCacheKeep: e.ENVOY_PIPELINE_BUILD_CACHE_KEEP,
    noPull: e.ENVOY_PIPELINE_NO_PULL,
    cluster: e.ENVOY_PIPELINE_CLUSTER,
  };
}

let parsed: ProcessSettings | undefined;

/** This process's settings, parsed from process.env on first use. */
export function settings(): ProcessSettings {
  parsed ??= parseSettings(process.env);
  return parsed;
}
