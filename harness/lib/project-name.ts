// The compose project name of one Jenkins build, from its BUILD_TAG.
// Design notes: docs/stacks.md ("lib/project-name.ts").
import { createHash } from "node:crypto";

/** Compose's limit on project names. */
export const PROJECT_NAME_MAX_LENGTH = 63;

const HASH_LENGTH = 8;

/**
 * `tag` as a compose project name, unique per tag: unchanged when it already is a valid name;
 * otherwise its end (branch and build number, the readable part that differs between builds),
 * cleaned, then `-` and the first 8 hex digits of the SHA-256 of the whole tag, so that tags that
 * clean or cut to the same text still differ. undefined for a blank tag.
 */
export function projectNameFromBuildTag(tag: string): string | undefined {
  const trimmed = tag.trim();
  if (trimmed === "") return undefined;
  const cleaned = trimmed
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "");
  if (cleaned === trimmed && cleaned.length <= PROJECT_NAME_MAX_LENGTH) return cleaned;
  const hash = createHash("sha256").update(trimmed).digest("hex").slice(0, HASH_LENGTH);
  const room = PROJECT_NAME_MAX_LENGTH - HASH_LENGTH - 1;
  let tail = cleaned.slice(-room);
  // A cut inside a word drops that word's rest: `pipeline-…`, not `y-pipeline-…`.
  const before = cleaned.length > room ? cleaned.charAt(cleaned.length - room - 1) : "";
  if (/[a-z0-9]/.test(before)) tail = tail.replace(/^[a-z0-9]+/, "");
  tail = tail.replace(/^[^a-z0-9]+/, "").replace(/[-_]+$/, "");
  return tail === "" ? hash : `${tail}-${hash}`;
}
