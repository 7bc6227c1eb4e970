import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "vitest";
import { buildProgram, packageVersion } from "../../harness/cli.ts";
import { repoRoot } from "../../harness/lib/paths.ts";

describe("harness/cli.ts", () => {
  it("importing it parses nothing: the test runner's own argv set no exit code", () => {
    assert.equal(process.exitCode, undefined);
  });

  it("--version prints the version in package.json", async () => {
    const printed: string[] = [];
    const program = buildProgram()
      .exitOverride()
      .configureOutput({ writeOut: (t) => printed.push(t), writeErr: (t) => printed.push(t) });
    await assert.rejects(program.parseAsync(["--version"], { from: "user" }), (err: { code?: string }) => err.code === "commander.version");
    const { version } = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string };
    assert.equal(printed.join("").trim(), version);
    assert.equal(packageVersion(), version);
  });

  it("an unknown stage is refused, not run", async () => {
    const program = buildProgram()
      .exitOverride()
      .configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
    await assert.rejects(
      program.parseAsync(["deplyo"], { from: "user" }),
      (err: { code?: string }) => err.code === "commander.unknownCommand",
    );
  });
});
