// The base images the stack builds FROM (node, envoy, prometheus, zipkin): for each, the official
// image or a local equivalent built from package registries. The steps and the caches: docs/images.md.
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writePrivateFile } from "../lib/private-files.ts";
import { formatIssues } from "../lib/errors.ts";
import { repoRoot } from "../lib/paths.ts";
import { settings } from "../settings.ts";
import { docker } from "../docker/engine.ts";
import { dockerBuild } from "./build.ts";
import type { Log } from "./downloads.ts";
import { folderDigest, inputHash, localTag } from "./hash.ts";
import { imageSetSchema, imagesFileSchema, type ImageEntry, type ImageSet } from "./schema.ts";
import { ENV_VARS, IMAGE_NAMES, OFFICIAL, RYUK, type ImageName } from "./versions.ts";
import { type LocalImagePlan, type ImagePlan, planImages } from "./plan.ts";
import { type Paths, paths, inspectImage, currentLocal, tryPull, assembleContext, buildLocalImages } from "./local-build.ts";

export interface PrepareOptions {
  /** Build (or reuse) the local equivalents even when the official images are available. */
  forceLocal?: boolean;
  /** Progress lines (what is being fetched or built, and how long it took). */
  log?: (line: string) => void;
  /** Repository root (default: this checkout): images/, .cache/ and .envoy-pipeline/ below it. */
  root?: string;
  /** Host CA bundle for the node image (default /etc/ssl/certs/ca-certificates.crt). */
  hostCaBundle?: string;
  /** How many image builds run at once (default 2, or ENVOY_PIPELINE_IMAGE_BUILDS). */
  parallelBuilds?: number;
}

// ---------------------------------------------------------------------------------------------
// Public API

function assemble(entries: Record<ImageName, ImageEntry>): ImageSet {
  const set = {
    source: Object.values(entries).some((e) => e.source === "local") ? ("local" as const) : ("official" as const),
    env: {
      NODE_IMAGE: entries.node.ref,
      ENVOY_IMAGE: entries.envoy.ref,
      PROMETHEUS_IMAGE: entries.prometheus.ref,
      ZIPKIN_IMAGE: entries.zipkin.ref,
    },
    images: entries,
  };
  return imageSetSchema.parse(set);
}

function writeImagesFile(file: string, set: ImageSet, ryuk: ImageEntry): void {
  writePrivateFile(file, `${JSON.stringify({ version: 1, preparedAt: new Date().toISOString(), imageSet: set, ryuk }, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------
// The Testcontainers reaper (not a base image: Testcontainers starts it)

/** The local reaper image: FROM the local node image, plus the .ts files of harness/reaper/ryuk/. */
export function planRyuk(plan: ImagePlan, root: string = repoRoot): Omit<LocalImagePlan, "name"> & { name: "ryuk"; source: string } {
  const recipeDir = join(root, "images", "ryuk");
  const source = join(root, RYUK.source);
  const buildArgs = { BASE_IMAGE: plan.images.node.tag };
  const hash = inputHash({
    image: "ryuk",
    node: plan.images.node.hash,
    files: folderDigest(recipeDir),
    reaper: folderDigest(source),
    buildArgs,
  });
  return { name: "ryuk", version: RYUK.version, hash, tag: localTag("ryuk", RYUK.version, hash), recipeDir, buildArgs, source };
}

/** The same four steps as the base images: official here, local here, official pulled, local built. */
async function prepareRyuk(plan: ImagePlan, p: Paths, log: Log, forceLocal: boolean, parallel: number): Promise<ImageEntry> {
  if (!forceLocal) {
    const official = await inspectImage(RYUK.official);
    if (official) return { ref: RYUK.official, source: "official", id: official.Id };
  }
  const ryuk = planRyuk(plan, p.root);
  const present = await currentLocal(ryuk);
  if (present) return { ref: ryuk.tag, source: "local", id: present.Id };
  if (!forceLocal && (await tryPull(RYUK.official, log))) {
    const info = await inspectImage(RYUK.official);
    if (info) return { ref: RYUK.official, source: "official", id: info.Id };
  }
  return buildRyuk(ryuk, plan, p, log, parallel);
}

/** The reaper's modules: one folder, no subfolders, so they sit side by side in /ryuk/ as in the checkout. */
function reaperSources(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(".ts"));
}

async function buildRyuk(ryuk: ReturnType<typeof planRyuk>, plan: ImagePlan, p: Paths, log: Log, parallel: number): Promise<ImageEntry> {
  // Built on the local node image, which may not exist when the official node image is used.
  if (!(await currentLocal(plan.images.node))) await buildLocalImages(["node"], plan, p, log, parallel);
  const contextDir = assembleContext(p.work, ryuk, {
    ...Object.fromEntries(reaperSources(ryuk.source).map((f) => [f, join(ryuk.source, f)])),
    "package.json": Buffer.from('{ "private": true, "type": "module" }\n'),
  });
  const t0 = Date.now();
  try {
    await dockerBuild({ name: "ryuk", tag: ryuk.tag, hash: ryuk.hash, contextDir, buildArgs: ryuk.buildArgs, logsDir: p.logs }, log);
  } finally {
    rmSync(contextDir, { recursive: true, force: true });
  }
  const info = await currentLocal(ryuk);
  if (!info) throw new Error(`${ryuk.tag} is missing or unlabelled right after its build`);
  log(`built ${ryuk.tag} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { ref: ryuk.tag, source: "local", id: info.Id };
}

/**
 * Our own reaper image, never the official one (only ours removes swarm services and configs):
 * the swarm target's reaper (harness/targets/swarm/reaper.ts). Built here when it is missing.
 */
export async function localReaperImage(opts: { root?: string; log?: Log } = {}): Promise<string> {
  const p = paths(opts.root ?? repoRoot);
  const plan = planImages({ root: p.root });
  const ryuk = planRyuk(plan, p.root);
  if (await currentLocal(ryuk)) return ryuk.tag;
  return (await buildRyuk(ryuk, plan, p, opts.log ?? (() => undefined), 2)).ref;
}

/** Points RYUK.alias (what Testcontainers is told to run) at the image prepare chose. */
async function tagRyukAlias(entry: ImageEntry): Promise<void> {
  const [repo, tag] = RYUK.alias.split(":") as [string, string];
  const current = await inspectImage(RYUK.alias);
  if (current?.Id !== entry.id) await docker().getImage(entry.ref).tag({ repo, tag });
}

/**
 * Makes every base image available and returns the compose variables that name them (also
 * written to .envoy-pipeline/images.json). Needs a running engine (ensureDockerEngine()).
 */
export async function prepareImages(opts: PrepareOptions = {}): Promise<ImageSet> {
  const log: Log = opts.log ?? (() => undefined);
  const p = paths(opts.root ?? repoRoot);
  const plan = planImages({ root: p.root, ...(opts.hostCaBundle ? { hostCaBundle: opts.hostCaBundle } : {}) });
  const parallel = opts.parallelBuilds ?? settings().imageBuilds;
  const forceLocal = opts.forceLocal === true;
  const entries: Partial<Record<ImageName, ImageEntry>> = {};

  // 1 + 2: what is already here.
  await Promise.all(
    IMAGE_NAMES.map(async (name) => {
      if (!forceLocal) {
        const official = await inspectImage(OFFICIAL[name]);
        if (official) {
          entries[name] = { ref: OFFICIAL[name], source: "official", id: official.Id };
          return;
        }
      }
      const local = await currentLocal(plan.images[name]);
      if (local) entries[name] = { ref: plan.images[name].tag, source: "local", id: local.Id };
    }),
  );
  let missing = IMAGE_NAMES.filter((n) => entries[n] === undefined);

  // 3: a registry.
  if (!forceLocal && missing.length > 0) {
    await Promise.all(
      missing.map(async (name) => {
        if (!(await tryPull(OFFICIAL[name], log))) return;
        const info = await inspectImage(OFFICIAL[name]);
        if (info) entries[name] = { ref: OFFICIAL[name], source: "official", id: info.Id };
      }),
    );
    missing = IMAGE_NAMES.filter((n) => entries[n] === undefined);
  }

  // 4: local builds.
  if (missing.length > 0) {
    log(`building local equivalents of: ${missing.join(", ")}`);
    await buildLocalImages(missing, plan, p, log, parallel);
    for (const name of missing) {
      const info = await currentLocal(plan.images[name]);
      if (!info) throw new Error(`${plan.images[name].tag} is not present after its build`);
      entries[name] = { ref: plan.images[name].tag, source: "local", id: info.Id };
    }
  }

  const set = assemble(entries as Record<ImageName, ImageEntry>);
  for (const name of IMAGE_NAMES) log(`${ENV_VARS[name]}=${set.images[name].ref} (${set.images[name].source})`);
  const ryuk = await prepareRyuk(plan, p, log, forceLocal, parallel);
  await tagRyukAlias(ryuk);
  log(`RYUK_CONTAINER_IMAGE=${RYUK.alias} -> ${ryuk.ref} (${ryuk.source})`);
  writeImagesFile(p.imagesFile, set, ryuk);
  return set;
}

/**
 * The images for later stages, fast: no pulls and no builds, only `docker image inspect`. Per
 * image, the first present of: what .envoy-pipeline/images.json says (a local image only if its
 * inputs are still current), the official image, the current local equivalent. An image found
 * nowhere is returned as the official reference with id null (compose will try to pull it; run
 * the prepare stage to build it instead).
 */
export async function resolveImages(opts: { root?: string; hostCaBundle?: string } = {}): Promise<ImageSet> {
  const p = paths(opts.root ?? repoRoot);
  const plan = planImages({ root: p.root, ...(opts.hostCaBundle ? { hostCaBundle: opts.hostCaBundle } : {}) });
  const recorded = readImagesFile(p.imagesFile);
  const entries = {} as Record<ImageName, ImageEntry>;
  await Promise.all(
    IMAGE_NAMES.map(async (name) => {
      const candidates: Array<{ ref: string; source: "official" | "local" }> = [];
      const prev = recorded?.imageSet.images[name];
      if (prev && (prev.source === "official" || prev.ref === plan.images[name].tag))
        candidates.push({ ref: prev.ref, source: prev.source });
      candidates.push({ ref: OFFICIAL[name], source: "official" }, { ref: plan.images[name].tag, source: "local" });
      for (const c of candidates) {
        const info = c.source === "local" ? await currentLocal(plan.images[name]) : await inspectImage(c.ref);
        if (info) {
          entries[name] = { ...c, id: info.Id };
          return;
        }
      }
      entries[name] = { ref: OFFICIAL[name], source: "official", id: null };
    }),
  );
  return assemble(entries);
}

/** .envoy-pipeline/images.json, or null when it is missing or not what we wrote (said on stderr). */
export function readImagesFile(file: string = paths(repoRoot).imagesFile) {
  if (!existsSync(file)) return null;
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    process.stderr.write(`warning: ignoring ${file}: not valid JSON (${(err as Error).message})\n`);
    return null;
  }
  const parsed = imagesFileSchema.safeParse(data);
  if (!parsed.success) {
    process.stderr.write(`warning: ignoring ${file}: ${formatIssues(parsed.error)}\n`);
    return null;
  }
  return parsed.data;
}
