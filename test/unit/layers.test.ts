import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { importsOf, KNOWN_UPWARD, layerOf, layerViolations } from "../../scripts/layers.ts";

describe("the harness's layers (scripts/layers.ts)", () => {
  it("no module of harness/ imports from a higher layer", () => {
    expect(layerViolations("harness")).toEqual([]);
  });

  it("says no to a lower layer importing a higher one, and names both ends", () => {
    const root = "test/fixtures/layers/harness";
    expect(layerViolations(root, [])).toEqual([
      { from: `${root}/lib/low.ts`, to: `${root}/stack/high.ts`, fromLayer: "lib", toLayer: "stack" },
    ]);
  });

  it("a known upward import is left out only when listed, by both ends", () => {
    const root = "test/fixtures/layers/harness";
    expect(layerViolations(root, [`${root}/lib/low.ts -> ${root}/stack/high.ts`])).toEqual([]);
    expect(KNOWN_UPWARD.every((k) => /^harness\/\S+\.ts -> harness\/\S+\.ts$/.test(k))).toBe(true);
  });

  it("a folder in no layer is an error that says where to add it", () => {
    const root = mkdtempSync(join(tmpdir(), "layers-"));
    mkdirSync(join(root, "newthing"));
    writeFileSync(join(root, "newthing", "x.ts"), "export const x = 1;\n");
    try {
      expect(() => layerViolations(root)).toThrow(/in no layer \(add 'newthing' to LAYERS/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    expect(layerOf("harness", "harness/stack/discover.ts")).toEqual({ name: "stack", rank: 5 });
  });

  it("reads static, re-export and dynamic imports, relative ones only", () => {
    const source = [
      'import { a } from "./a.ts";',
      'export { b } from "../b.ts";',
      'const c = await import("./c.ts");',
      'import type { D } from "../d/d.ts";',
      'import { z } from "zod";',
    ].join("\n");
    expect(importsOf(source)).toEqual(["./a.ts", "../b.ts", "./c.ts", "../d/d.ts"]);
  });
});
