// The tag of the images a stack builds: a hash of what goes into them, not the run's name.
// Design notes: docs/stacks.md ("stack/image-tag.ts").
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { z } from "zod";
import { inputHash, sha256Hex } from "../images/hash.ts";

/** The part of `docker compose config --format json` the harness reads. */
export const composeModelSchema = z.object({
  services: z.record(
    z.string(),
    z.object({
      image: z.string().optional(),
      build: z
        .object({
          context: z.string(),
          dockerfile: z.string().optional(),
          args: z.record(z.string(), z.string().nullable()).optional(),
        })
        .optional(),
    }),
  ),
});
export type ComposeModel = z.infer<typeof composeModelSchema>;

/** Simple .dockerignore patterns: names or paths, `*` within a name, `**` across folders. */
function ignoreMatcher(context: string): (rel: string) => boolean {
  const file = join(context, ".dockerignore");
  const patterns = existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .map((l) => l.trim().replace(/^\/+|\/+$/g, ""))
        .filter((l) => l !== "" && !l.startsWith("#") && !l.startsWith("!"))
    : [];
  const regexes = patterns.map(
    (p) =>
      new RegExp(
        `^${p
          .split("**")
          .map((part) =>
            part
              .replace(/[.+^${}()|[\]\\]/g, "\\$&")
              .replace(/\*/g, "[^/]*")
              .replace(/\?/g, "[^/]"),
          )
          .join(".*")}(/.*)?$`,
      ),
  );
  return (rel) => regexes.some((r) => r.test(rel));
}

/** sha256 per file of a build context, without what .dockerignore leaves out. */
export function contextDigest(context: string): Record<string, string> {
  const ignored = ignoreMatcher(context);
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const rel = relative(context, path).split(sep).join("/");
      if (ignored(rel)) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) out[rel] = sha256Hex(readFileSync(path));
    }
  };
  walk(context);
  return out;
}

/** The content tag for a compose model's built images: 12 hex digits. */
export function contentTag(model: ComposeModel, baseImageIds: Record<string, string | null>): string {
  const builds: Record<string, unknown> = {};
  for (const [name, service] of Object.entries(model.services)) {
    if (!service.build) continue;
    const context = resolve(service.build.context);
    builds[name] = {
      files: contextDigest(context),
      dockerfile: service.build.dockerfile ?? "Dockerfile",
      args: service.build.args ?? {},
    };
  }
  return inputHash({ builds, baseImageIds }).slice(0, 12);
}

/** The images the model builds, with their tag: `envoy-pipeline/service:<tag>`, ... (deduplicated). */
export function builtImages(model: ComposeModel): string[] {
  return [...new Set(Object.values(model.services).flatMap((s) => (s.build && s.image ? [s.image] : [])))].sort();
}
