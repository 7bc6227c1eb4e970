import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, it } from "vitest";
import { PINS } from "../../harness/images/versions.ts";

const repoRoot = resolve(import.meta.dirname, "../..");
const nodeEnv = join(repoRoot, "scripts/node-env.sh");
const shellPin = (name: string): string => {
  const m = readFileSync(nodeEnv, "utf8").match(new RegExp(`^${name}=(\\S+)$`, "m"));
  assert.ok(m?.[1], `${name} is missing from scripts/node-env.sh`);
  return m[1];
};
const atLeast = (version: string, min: string): boolean => {
  const [a, b] = [version, min].map((v) => v.replace(/^v/, "").split(".").map(Number));
  for (let i = 0; i < 3; i++) if ((a?.[i] ?? 0) !== (b?.[i] ?? 0)) return (a?.[i] ?? 0) > (b?.[i] ?? 0);
  return true;
};

describe("the harness's Node.js runtime", () => {
  const fakes = mkdtempSync(join(tmpdir(), "node-runtime-"));
  afterAll(() => rmSync(fakes, { recursive: true, force: true }));

  it("is the Node.js the images use when bootstrap has to fetch one", () => {
    assert.equal(shellPin("NODE_PIN_VERSION"), PINS.node.version);
    assert.equal(shellPin("NODE_PIN_INTEGRITY"), PINS.node.integrity);
  });

  it("runs the harness: the npm scripts' node is at least the engines minimum", () => {
    const min = shellPin("NODE_MIN");
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { engines: { node: string } };
    assert.equal(pkg.engines.node, `>=${min}`);
    const seen = execFileSync("sh", [join(repoRoot, "scripts/with-node.sh"), "node", "--version"], { encoding: "utf8" }).trim();
    // Printed so that a run's log shows which Node.js ran it.
    console.log(`node --version as the npm scripts see it: ${seen}; vitest runs on ${process.version}`);
    assert.ok(atLeast(seen, min), `${seen} < ${min}`);
    assert.ok(atLeast(process.version, min), `vitest runs on ${process.version} < ${min}`);
  });

  it("keeps a host Node.js that is new enough and says no to an older one", () => {
    const verdict = (version: string): boolean => {
      const bin = mkdtempSync(join(fakes, "bin-"));
      writeFileSync(join(bin, "node"), `#!/bin/sh\necho ${version}\n`);
      chmodSync(join(bin, "node"), 0o755);
      const r = spawnSync("sh", ["-c", `. "${nodeEnv}" && envoy_pipeline_node_ok`], { env: { PATH: `${bin}:/usr/bin:/bin` } });
      return r.status === 0;
    };
    for (const v of ["v22.22.0", "v22.23.5", "v24.21.0", "v26.0.0"]) assert.equal(verdict(v), true, v);
    for (const v of ["v20.20.2", "v22.9.0", "v22.21.9", "v18.20.4", "garbage"]) assert.equal(verdict(v), false, v);
  });
});
