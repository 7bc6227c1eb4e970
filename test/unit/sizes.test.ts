import { describe, expect, it } from "vitest";
import { isPending, oversize, oversizeIn, PENDING } from "../../scripts/sizes.ts";

const fn = (name: string, bodyLines: number): string =>
  `export function ${name}(): number {\n${"  void 0;\n".repeat(bodyLines)}  return 1;\n}\n`;

describe("the harness's size limits (scripts/sizes.ts)", () => {
  it("says no to a function over 80 lines and names it with its line", () => {
    const text = `${fn("small", 10)}${fn("large", 80)}`;
    expect(oversizeIn("x.ts", text)).toEqual([{ file: "x.ts", name: "large", line: 14, lines: 83 }]);
  });

  it("a function of exactly 80 lines passes", () => {
    expect(oversizeIn("x.ts", fn("edge", 77))).toEqual([]);
  });

  it("names an arrow function by its variable and says no to a file over 400 lines", () => {
    const arrow = `const big = () => {\n${"  void 0;\n".repeat(85)}};\n`;
    const text = `${arrow}${"// filler\n".repeat(320)}`;
    const found = oversizeIn("y.ts", text);
    expect(found.map((o) => [o.name, o.lines])).toEqual([
      [null, 407],
      ["big", 87],
    ]);
  });

  it("a data table on the allow-list is left out", () => {
    const all = oversize("harness", []);
    const first = all.find((o) => o.name !== null);
    if (first === undefined) return;
    const tables = [`${first.file}#${first.name}`];
    expect(oversize("harness", tables)).not.toContainEqual(first);
  });

  it("only files on the pending list are excused, by file or by folder", () => {
    const at = (file: string) => ({ file, name: "f", line: 1, lines: 99 });
    expect(isPending(at("harness/reaper/ryuk.ts"), ["harness/reaper/ryuk.ts"])).toBe(true);
    expect(isPending(at("harness/cli.ts"))).toBe(false);
    expect(isPending(at("harness/stages/verify.ts"), ["harness/stages/"])).toBe(true);
    expect(isPending(at("harness/lib/process.ts"), ["harness/stages/"])).toBe(false);
    expect(isPending(at("harness/cli-other.ts"), ["harness/cli.ts"])).toBe(false);
    expect(PENDING.every((p) => p.startsWith("harness/"))).toBe(true);
  });

  it("harness/ has nothing over the limits outside the pending list", () => {
    expect(oversize("harness").filter((o) => !isPending(o))).toEqual([]);
  });
});
