// Content hashes: of files, of folders of build inputs, and of whole input descriptions. A local
// image's tag and its `envoy-pipeline.inputs` label carry the hash of everything it is built from,
// so "is it up to date" is one `docker image inspect`.
import { createHash } from "node:crypto";
import { createReadStream, readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { LOCAL_REPO_PREFIX } from "./versions.ts";

export function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Streams a file through a hash; `algorithm` is any node:crypto name (sha1, sha256, sha512). */
export function fileDigest(path: string, algorithm = "sha256", encoding: "hex" | "base64" = "hex"): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash(algorithm);
    createReadStream(path)
      .on("error", reject)
      .on("data", (chunk) => hash.update(chunk))
      .on("end", () => resolvePromise(hash.digest(encoding)));
  });
}

/** JSON with object keys sorted at every level, so equal values always give equal text. */
export function stableStringify(value: unknown): string {
  if (value === undefined) return "null";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(",")}}`;
}

/** The sha256 of a description of inputs (any JSON value; key order does not matter). */
export function inputHash(inputs: unknown): string {
  return sha256Hex(stableStringify(inputs));
}

/**
 * sha256 of every file under `dir` (recursively), keyed by its path relative to `dir` with "/"
 * separators, plus whether it is executable (a changed mode changes what the image holds).
 */
export function folderDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const exec = (statSync(path).mode & 0o111) !== 0 ? "+x" : "";
        out[relative(dir, path).split(sep).join("/")] = sha256Hex(readFileSync(path)) + exec;
      }
    }
  };
  walk(dir);
  return out;
}

/** `envoy-pipeline/<name>:<version>-<first 12 hex digits of the hash>`. */
export function localTag(name: string, version: string, hash: string): string {
  return `${LOCAL_REPO_PREFIX}/${name}:${version}-${hash.slice(0, 12)}`;
}

/** npm's integrity string ("sha512-<base64>") split into algorithm and base64 digest. */
export function parseIntegrity(integrity: string): { algorithm: string; base64: string } {
  const m = /^(sha\d+)-([A-Za-z0-9+/=]+)$/.exec(integrity.trim());
  if (!m || m[1] === undefined || m[2] === undefined) throw new Error(`not an integrity string: '${integrity}'`);
  return { algorithm: m[1], base64: m[2] };
}
