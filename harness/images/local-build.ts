// The Docker side of prepare: where its files live, what is already local or pullable, and building
// the local equivalents (a few builds at once, longest first).
import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { refuseKernelFolder } from "../config.ts";
import { formatIssues } from "../lib/errors.ts";
import { repoRoot } from "../lib/paths.ts";
import { settings } from "../settings.ts";
import { docker } from "../docker/engine.ts";
import { lastLines, runCommand } from "../docker/exec.ts";
import { buildBase } from "./base.ts";
import { dockerBuild } from "./build.ts";
import { envoyBinary, npmTarball, zipkinJar, type Log } from "./downloads.ts";
import { imageInspectSchema, type ImageInspect } from "./schema.ts";
import { INPUTS_LABEL, OFFICIAL, PINS, type ImageName } from "./versions.ts";
import type { ImagePlan } from "./plan.ts";

export interface Paths {
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
  return dir !== undefined ? refuseKernelFolder("ENVOY_PIPELINE_STATE_DIR", dir) : join(root, ".envoy-pipeline");
}

export function paths(root: string): Paths {
  return {
    root,
    images: join(root, "images"),
    downloads: join(root, ".cache", "downloads"),
    work: join(root, ".cache", "images"),
    logs: join(root, ".cache", "images", "logs"),
    imagesFile: join(stateDir(root), "images.json"),
  };
}

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
export async function currentLocal(plan: { tag: string; hash: string }): Promise<ImageInspect | null> {
  const info = await inspectImage(plan.tag);
  return info !== null && info.Config?.Labels?.[INPUTS_LABEL] === plan.hash ? info : null;
}

export async function tryPull(ref: string, log: Log): Promise<boolean> {
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
export function linkOrCopy(src: string, dest: string): void {
  try {
    linkSync(src, dest);
  } catch {
    copyFileSync(src, dest);
  }
}

/** The build context: images/<name>/* (modes kept) plus the artifacts under fixed names. */
export function assembleContext(
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
export async function fetchArtifacts(
  name: ImageName,
  plan: ImagePlan,
  downloads: string,
  log: Log,
): Promise<Record<string, string | Buffer>> {
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
export const BUILD_PRIORITY: Record<ImageName, number> = { zipkin: 0, prometheus: 1, envoy: 2, node: 3 };

export async function buildLocalImages(names: ImageName[], plan: ImagePlan, p: Paths, log: Log, parallel: number): Promise<void> {
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
