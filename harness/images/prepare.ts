// The base images the stack builds FROM (node, envoy, prometheus, zipkin). Per image:
//   1. the official image is present locally (unless forceLocal)          -> use it
//   2. the local equivalent for the current inputs is present             -> use it
//   3. `docker pull` of the official image works (unless forceLocal)      -> use it
//   4. otherwise build the local equivalent from images/<name>/Dockerfile:
//      envoy-pipeline/<name>:<version>-<hash12>, labelled envoy-pipeline.inputs=<hash>.
// The hash covers everything an image is built from (its images/<name>/ folder, the pinned
// versions and checksums, the base image's hash, the host CA bundle for node), so a second run
// is a handful of `docker image inspect` calls. Downloads are cached in .cache/downloads/, build
// contexts and logs live in .cache/images/, and the result is written to
// .envoy-pipeline/images.json for later stages (resolveImages()).
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { formatIssues } from "../lib/errors.ts";
import { repoRoot } from "../lib/paths.ts";
import { settings } from "../settings.ts";
import { docker } from "../docker/engine.ts";
import { lastLines, runCommand } from "../docker/exec.ts";
import { buildBase, planBase, type BasePlan } from "./base.ts";
import { dockerBuild } from "./build.ts";
import { envoyBinary, npmTarball, zipkinJar, type Log } from "./downloads.ts";
import { folderDigest, inputHash, localTag, sha256Hex } from "./hash.ts";
import { imageInspectSchema, imageSetSchema, imagesFileSchema, type ImageEntry, type ImageInspect, type ImageSet } from "./schema.ts";
import { DEBIAN, ENV_VARS, IMAGE_NAMES, INPUTS_LABEL, OFFICIAL, PINS, RYUK, type ImageName } from "./versions.ts";

/** The CA bundle the node image takes from the host (see images/node/Dockerfile). */
export const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

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

interface Paths {
  root: string;
  images: string;
  downloads: string;
  work: string;
  logs: string;
  imagesFile: string;
}

/**
 * The checkout's state folder (ignored by git): `.envoy-pipeline/`, or ENVOY_PIPELINE_STATE_DIR
 * (the tests point it at a temporary folder so that they never touch the user's).
 */
export function stateDir(root: string = repoRoot, dir: string | undefined = settings().stateDir): string {
  return dir ?? join(root, ".envoy-pipeline");
}

function paths(root: string): Paths {
  return {
    root,
    images: join(root, "images"),
    downloads: join(root, ".cache", "downloads"),
    work: join(root, ".cache", "images"),
    logs: join(root, ".cache", "images", "logs"),
    imagesFile: join(stateDir(root), "images.json"),
  };
}

// ---------------------------------------------------------------------------------------------
// Plan: names and hashes, computed from files only (no Docker, no network)

export interface LocalImagePlan {
  name: ImageName;
  version: string;
  hash: string;
  tag: string;
  recipeDir: string;
  buildArgs: Record<string, string>;
}

export interface ImagePlan {
  base: BasePlan;
  images: Record<ImageName, LocalImagePlan>;
  /** The host CA bundle's bytes as hashed (empty when the host has none). */
  hostCa: Buffer;
}

const VERSIONS: Record<ImageName, string> = {
  node: PINS.node.version,
  envoy: PINS.envoy.version,
  prometheus: `debian-${DEBIAN.suite}`,
  zipkin: PINS.zipkin.version,
};

/** The build args each Dockerfile takes (besides BASE_IMAGE). */
const BUILD_ARGS: Record<ImageName, Record<string, string>> = {
  node: { NODE_VERSION: PINS.node.version, NPM_VERSION: PINS.npm.version },
  envoy: { ENVOY_VERSION: PINS.envoy.version },
  prometheus: {},
  zipkin: { ZIPKIN_VERSION: PINS.zipkin.version },
};

/** What else goes into each image (pinned artifacts and their checksums). */
function pinnedInputs(name: ImageName): unknown {
  switch (name) {
    case "node":
      return { node: PINS.node, npm: PINS.npm };
    case "envoy":
      return PINS.envoy;
    case "prometheus":
      return { ...PINS.prometheus, suite: DEBIAN.suite };
    case "zipkin":
      return PINS.zipkin;
  }
}

/**
 * Every local image's tag and input hash. Pure apart from reading images/ and the host CA bundle;
 * `hostCa` may be passed to compute what a different bundle would give (tests).
 */
export function planImages(opts: { root?: string; hostCaBundle?: string; hostCa?: Buffer } = {}): ImagePlan {
  const p = paths(opts.root ?? repoRoot);
  const base = planBase(p.images);
  const hostCa = opts.hostCa ?? readHostCa(opts.hostCaBundle ?? HOST_CA_BUNDLE);
  const images = {} as Record<ImageName, LocalImagePlan>;
  for (const name of IMAGE_NAMES) {
    const recipeDir = join(p.images, name);
    const buildArgs = { BASE_IMAGE: base.tag, ...BUILD_ARGS[name] };
    const hash = inputHash({
      image: name,
      base: base.hash,
      files: folderDigest(recipeDir),
      pins: pinnedInputs(name),
      buildArgs,
      ...(name === "node" ? { hostCaSha256: sha256Hex(hostCa) } : {}),
    });
    images[name] = { name, version: VERSIONS[name], hash, tag: localTag(name, VERSIONS[name], hash), recipeDir, buildArgs };
  }
  return { base, images, hostCa };
}

function readHostCa(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    return Buffer.alloc(0);
  }
}

// ---------------------------------------------------------------------------------------------
// Docker queries

/** `docker image inspect` through the API; null when the image is not there. */
export async function inspectImage(ref: string): Promise<ImageInspect | null> {
  let data: unknown;
  try {
    data = await docker().getImage(ref).inspect();
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return null;
    throw new Error(`docker image inspect ${ref}: ${(err as Error).message}`);
  }
  const parsed = imageInspectSchema.safeParse(data);
  if (!parsed.success) throw new Error(`docker image inspect ${ref}: unexpected answer: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

/** The local image for `plan` when present and labelled with its hash. */
async function currentLocal(plan: { tag: string; hash: string }): Promise<ImageInspect | null> {
  const info = await inspectImage(plan.tag);
  return info !== null && info.Config?.Labels?.[INPUTS_LABEL] === plan.hash ? info : null;
}

async function tryPull(ref: string, log: Log): Promise<boolean> {
  const t0 = Date.now();
  const r = await runCommand("docker", ["pull", ref], { timeoutMs: 20 * 60_000 });
  if (r.code === 0) {
    log(`pulled ${ref} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return true;
  }
  log(`docker pull ${ref} failed: ${lastLines(r.stderr || r.stdout, 1) || `exit ${r.code}`}`);
  return false;
}

// ---------------------------------------------------------------------------------------------
// Building

/**
 * A tiny counting semaphore. Slots are handed out on the next turn of the event loop, so work
 * that becomes ready at the same moment is served in priority order (lower first), not in the
 * order its promises happened to resolve.
 */
export class Slots {
  private waiting: Array<{ priority: number; go: () => void }> = [];
  private scheduled = false;
  constructor(private free: number) {}
  async run<T>(priority: number, work: () => Promise<T>): Promise<T> {
    await new Promise<void>((go) => {
      this.waiting.push({ priority, go });
      this.waiting.sort((a, b) => a.priority - b.priority);
      this.schedule();
    });
    try {
      return await work();
    } finally {
      this.free++;
      this.schedule();
    }
  }
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.free > 0 && this.waiting.length > 0) {
        this.free--;
        this.waiting.shift()?.go();
      }
    });
  }
}

/** Hard link (same file system, no copy) or copy. */
function linkOrCopy(src: string, dest: string): void {
  try {
    linkSync(src, dest);
  } catch {
    copyFileSync(src, dest);
  }
}

/** The build context: images/<name>/* (modes kept) plus the artifacts under fixed names. */
function assembleContext(
  work: string,
  plan: { name: string; hash: string; recipeDir: string },
  artifacts: Record<string, string | Buffer>,
): string {
  mkdirSync(work, { recursive: true });
  const dir = mkdtempSync(join(work, `ctx-${plan.name}-${plan.hash.slice(0, 12)}-`));
  for (const entry of readdirSync(plan.recipeDir)) {
    const src = join(plan.recipeDir, entry);
    if (!statSync(src).isFile()) continue;
    copyFileSync(src, join(dir, entry));
    chmodSync(join(dir, entry), statSync(src).mode & 0o777);
  }
  for (const [name, src] of Object.entries(artifacts)) {
    if (typeof src === "string") linkOrCopy(src, join(dir, name));
    else writeFileSync(join(dir, name), src);
  }
  return dir;
}

/** The files each image's build context needs besides its images/<name>/ folder. */
async function fetchArtifacts(name: ImageName, plan: ImagePlan, downloads: string, log: Log): Promise<Record<string, string | Buffer>> {
  switch (name) {
    case "node": {
      const [node, npm] = await Promise.all([npmTarball(PINS.node, downloads, log), npmTarball(PINS.npm, downloads, log)]);
      return { "node.tgz": node, "npm.tgz": npm, "host-ca-certificates.crt": plan.hostCa };
    }
    case "envoy":
      return { envoy: await envoyBinary(downloads, log) };
    case "prometheus":
      return {};
    case "zipkin":
      return { "zipkin.jar": await zipkinJar(downloads, log) };
  }
}

/** Longest builds first when builds wait for a slot. */
const BUILD_PRIORITY: Record<ImageName, number> = { zipkin: 0, prometheus: 1, envoy: 2, node: 3 };

async function buildLocalImages(names: ImageName[], plan: ImagePlan, p: Paths, log: Log, parallel: number): Promise<void> {
  const t0 = Date.now();
  const secs = (): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  const haveBase = (await currentLocal(plan.base)) !== null;
  if (!haveBase && (typeof process.getuid !== "function" || process.getuid() !== 0)) {
    throw new Error(
      `no registry serves ${names.map((n) => OFFICIAL[n]).join(", ")}, and building their local equivalents starts with ` +
        `the Debian base image ${plan.base.tag}, which needs root (debootstrap). Run the prepare stage once as root, ` +
        "or load the official images (`docker load`) or give Docker a reachable registry mirror.",
    );
  }
  // The base image (debootstrap, ~30 s) and the downloads run at the same time.
  const base = (async () => {
    if (haveBase) return;
    await buildBase(plan.base, p.work, p.logs, join(p.downloads, "debootstrap"), log);
    if (!(await currentLocal(plan.base))) throw new Error(`${plan.base.tag} is missing or unlabelled right after it was imported`);
    log(`base image ${plan.base.tag} ready after ${secs()}`);
  })();
  base.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
  const slots = new Slots(parallel);
  const results = await Promise.allSettled(
    names.map(async (name) => {
      const image = plan.images[name];
      const artifacts = await fetchArtifacts(name, plan, p.downloads, log);
      await base;
      await slots.run(BUILD_PRIORITY[name], async () => {
        const started = Date.now();
        const contextDir = assembleContext(p.work, image, artifacts);
        log(`building ${image.tag}`);
        try {
          await dockerBuild({ name, tag: image.tag, hash: image.hash, contextDir, buildArgs: image.buildArgs, logsDir: p.logs }, log);
        } finally {
          rmSync(contextDir, { recursive: true, force: true });
        }
        const info = await currentLocal(image);
        if (info === null) throw new Error(`${image.tag} is missing or carries another ${INPUTS_LABEL} label right after its build`);
        log(`built ${image.tag} in ${((Date.now() - started) / 1000).toFixed(1)} s (${(info.Size / 1e6).toFixed(0)} MB)`);
      });
    }),
  );
  const baseError = await base.then(
    () => null,
    (err: unknown) => err as Error,
  );
  if (baseError) throw new Error(`building the local base image ${plan.base.tag} failed: ${baseError.message}`);
  const failures = results.flatMap((r, i) =>
    r.status === "rejected" ? [`${names[i]}: ${(r.reason as Error).message ?? String(r.reason)}`] : [],
  );
  if (failures.length > 0) throw new Error(`building local base images failed:\n${failures.join("\n")}`);
  log(`local images ready after ${secs()}`);
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
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ version: 1, preparedAt: new Date().toISOString(), imageSet: set, ryuk }, null, 2)}\n`);
  renameSync(tmp, file);
}

// ---------------------------------------------------------------------------------------------
// The Testcontainers reaper (not a base image: Testcontainers starts it)

/** The local reaper image: FROM the local node image, plus harness/reaper/ryuk.ts. */
export function planRyuk(plan: ImagePlan, root: string = repoRoot): Omit<LocalImagePlan, "name"> & { name: "ryuk"; source: string } {
  const recipeDir = join(root, "images", "ryuk");
  const source = join(root, RYUK.source);
  const buildArgs = { BASE_IMAGE: plan.images.node.tag };
  const hash = inputHash({
    image: "ryuk",
    node: plan.images.node.hash,
    files: folderDigest(recipeDir),
    reaper: sha256Hex(readFileSync(source)),
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

async function buildRyuk(ryuk: ReturnType<typeof planRyuk>, plan: ImagePlan, p: Paths, log: Log, parallel: number): Promise<ImageEntry> {
  // Built on the local node image, which may not exist when the official node image is used.
  if (!(await currentLocal(plan.images.node))) await buildLocalImages(["node"], plan, p, log, parallel);
  const contextDir = assembleContext(p.work, ryuk, {
    "ryuk.ts": ryuk.source,
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
