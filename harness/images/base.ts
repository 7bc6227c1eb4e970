// The local Debian base image every local equivalent starts FROM: images/debian/build-rootfs.sh
// (debootstrap minbase + ca-certificates, trimmed like debian:*-slim) imported with `docker import`.
// Built once per input hash and shared by all local images.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { ensureHostCommands } from "../docker/engine.ts";
import { lastLines, mustRun, runCommand } from "../docker/exec.ts";
import type { Log } from "./downloads.ts";
import { folderDigest, inputHash, localTag } from "./hash.ts";
import { DEBIAN, INPUTS_LABEL } from "./versions.ts";

export interface BasePlan {
  hash: string;
  tag: string;
  /** images/debian */
  recipeDir: string;
}

/** The base image's inputs: the recipe folder and the Debian suite (not the mirror: same content). */
export function planBase(imagesDir: string): BasePlan {
  const recipeDir = join(imagesDir, "debian");
  const hash = inputHash({
    image: "debian",
    suite: DEBIAN.suite,
    variant: "minbase",
    include: ["ca-certificates"],
    files: folderDigest(recipeDir),
  });
  return { hash, tag: localTag("debian", DEBIAN.suite, hash), recipeDir };
}

/** Mount points at or below `dir` (from /proc/self/mounts; octal escapes decoded). */
function mountsBelow(dir: string): string[] {
  let text = "";
  try {
    text = readFileSync("/proc/self/mounts", "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .map((line) => (line.split(" ")[1] ?? "").replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

/**
 * Deletes a debootstrap target. debootstrap mounts /proc and /sys inside it while it runs and
 * may leave them mounted when it fails: those are unmounted first, and nothing is deleted while
 * anything is still mounted below the folder.
 */
export async function removeRootfs(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const m of mountsBelow(dir).sort((a, b) => b.length - a.length)) {
    await runCommand("umount", ["-l", m]);
  }
  const left = mountsBelow(dir);
  if (left.length > 0) throw new Error(`not deleting ${dir}: still mounted below it: ${left.join(", ")}`);
  rmSync(dir, { recursive: true, force: true });
}

/** Removes root file systems that an interrupted run left in `work` (older than an hour). */
export async function removeStaleRootfs(work: string): Promise<void> {
  if (!existsSync(work)) return;
  for (const name of readdirSync(work)) {
    if (!name.startsWith("rootfs-")) continue;
    const path = join(work, name);
    try {
      if (Date.now() - statSync(path).mtimeMs > 3600_000) await removeRootfs(path);
    } catch {
      // another run may be using or removing it
    }
  }
}

/** `tar -C dir -c . | docker import ... - tag`, with both commands' errors reported. */
function importRootfs(dir: string, tag: string, changes: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const tar = spawn("tar", ["--numeric-owner", "--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*", "-C", dir, "-c", "."], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const args = ["import", ...changes.flatMap((c) => ["--change", c]), "-", tag];
    const imp = spawn("docker", args, { stdio: ["pipe", "pipe", "pipe"] });
    let tarErr = "";
    let impOut = "";
    tar.stderr.setEncoding("utf8").on("data", (c: string) => (tarErr += c));
    imp.stdout.setEncoding("utf8").on("data", (c: string) => (impOut += c));
    imp.stderr.setEncoding("utf8").on("data", (c: string) => (impOut += c));
    tar.stdout.pipe(imp.stdin);
    imp.stdin.on("error", () => undefined);
    const codes: { tar?: number; imp?: number } = {};
    const done = (): void => {
      if (codes.tar === undefined || codes.imp === undefined) return;
      if (codes.tar !== 0) reject(new Error(`tar -C ${dir} -c . failed (exit ${codes.tar}):\n${lastLines(tarErr, 10)}`));
      else if (codes.imp !== 0) reject(new Error(`docker ${args.join(" ")} failed (exit ${codes.imp}):\n${lastLines(impOut, 10)}`));
      else resolvePromise();
    };
    tar.on("error", reject);
    imp.on("error", reject);
    tar.on("close", (code) => {
      codes.tar = code ?? 128;
      done();
    });
    imp.on("close", (code) => {
      codes.imp = code ?? 128;
      done();
    });
  });
}

/** Builds the base image (the caller has checked that it is not there). Needs root (debootstrap). */
export async function buildBase(plan: BasePlan, work: string, logsDir: string, debCache: string, log: Log): Promise<void> {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    throw new Error(
      `building the local base image ${plan.tag} needs root (debootstrap creates device files and chroots); ` +
        "run as root, or make the official images available (a reachable registry, or `docker load`).",
    );
  }
  await ensureHostCommands([{ command: "debootstrap", aptPackage: "debootstrap", why: "builds the local Debian base image" }]);
  mkdirSync(work, { recursive: true });
  mkdirSync(logsDir, { recursive: true });
  await removeStaleRootfs(work);
  const rootfs = mkdtempSync(join(work, "rootfs-"));
  const logFile = join(logsDir, `debian-${plan.hash.slice(0, 12)}.log`);
  const out = createWriteStream(logFile);
  try {
    log(`building ${plan.tag}: debootstrap ${DEBIAN.suite} (log: ${logFile})`);
    const t0 = Date.now();
    await mustRun("sh", [join(plan.recipeDir, "build-rootfs.sh"), rootfs, DEBIAN.suite, DEBIAN.mirror, DEBIAN.securityMirror], {
      env: { ...process.env, DEBOOTSTRAP_CACHE_DIR: debCache },
      onLine: (line) => out.write(`${line}\n`),
      what: `images/debian/build-rootfs.sh (full log: ${logFile})`,
    });
    log(`debootstrap done in ${((Date.now() - t0) / 1000).toFixed(1)} s; importing ${plan.tag}`);
    await importRootfs(rootfs, plan.tag, [
      `LABEL ${INPUTS_LABEL}=${plan.hash}`,
      `LABEL org.opencontainers.image.description="Debian ${DEBIAN.suite} minbase + ca-certificates (envoy-pipeline local base)"`,
      "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      'CMD ["bash"]',
    ]);
  } finally {
    out.end();
    await removeRootfs(rootfs);
  }
}
