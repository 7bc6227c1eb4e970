// The harness's layers, low to high, and the check that no module imports from a higher layer
// (`npm run check:layers`; test/unit/layers.test.ts). A module may import its own layer and lower.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";

/** Low to high. Each entry names the folders (or top-level files, without `.ts`) of one layer. */
export const LAYERS: readonly (readonly string[])[] = [
  ["lib"],
  ["config", "settings", "stackfile"],
  ["docker", "envoy"],
  ["images"],
  ["reaper"],
  ["stack"],
  ["render", "xds"],
  ["targets"],
  ["observability"],
  ["verify"],
  ["stages"],
  ["cli", "webhook"],
];

/**
 * Upward imports still to be removed, each with the step that removes it. Empty is the goal: a
 * new entry needs a reason in review.
 */
export const KNOWN_UPWARD: readonly string[] = [];

export interface Violation {
  from: string;
  to: string;
  fromLayer: string;
  toLayer: string;
}

/** The layer (its index) of a file under `root` (e.g. harness/stack/discover.ts: "stack"). */
export function layerOf(root: string, file: string): { name: string; rank: number } {
  const [first = ""] = relative(root, file).split(sep);
  const name = first.replace(/\.ts$/, "");
  const rank = LAYERS.findIndex((layer) => layer.includes(name));
  if (rank === -1) throw new Error(`${file}: in no layer (add '${name}' to LAYERS in scripts/layers.ts)`);
  return { name, rank };
}

/** Relative module specifiers of `import ... from`, `export ... from` and `import(...)`. */
export function importsOf(source: string): string[] {
  return [...source.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((m) => m[1] as string);
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(path);
    return e.isFile() && e.name.endsWith(".ts") ? [path] : [];
  });
}

/** Every import under `root` that goes to a higher layer, but for `known` ("from -> to" lines). */
export function layerViolations(root: string, known: readonly string[] = KNOWN_UPWARD): Violation[] {
  const out: Violation[] = [];
  for (const from of tsFiles(root)) {
    const mine = layerOf(root, from);
    for (const spec of importsOf(readFileSync(from, "utf8"))) {
      const to = normalize(join(dirname(from), spec));
      if (relative(root, to).startsWith("..")) continue;
      const theirs = layerOf(root, to);
      if (theirs.rank <= mine.rank) continue;
      const v = { from: relative(process.cwd(), from), to: relative(process.cwd(), to), fromLayer: mine.name, toLayer: theirs.name };
      if (!known.includes(`${v.from} -> ${v.to}`)) out.push(v);
    }
  }
  return out;
}
