// The Jenkins library's default CLI resolves and runs (issue 10, defect 1): the command the library
// renders when a Jenkinsfile passes no `cli` (jenkins-test/cli-contract.json's defaultCli, from
// envoyPipelineSupport.renderDefaultCli) is run by /bin/sh, as the sh step runs it, against this
// repository in a local bare git repository at a tag: npx fetches exactly that version with git and
// starts its envoy-pipeline bin. Nothing comes from a public registry but the CLI's dependencies.
// Everything is written under a temporary folder (npm's cache included).
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { z } from "zod";
import { repoRoot } from "../../harness/lib/paths.ts";

const contract = z
  .object({ defaultCli: z.string().includes("/LIBRARY_REPO").includes("LIBRARY_VERSION") })
  .parse(JSON.parse(readFileSync(resolve(repoRoot, "jenkins-test/cli-contract.json"), "utf8")));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function run(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Run> {
  const child = spawn(command, [...args], { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, "close")) as [number | null];
  return { code, stdout, stderr };
}

describe("the library's default cli", () => {
  let dir: string;
  let bare: string;
  let env: NodeJS.ProcessEnv;
  const TAG = "v0.0.0-default-cli-test";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "default-cli-"));
    bare = join(dir, "envoy-pipeline.git");
    // The library's repository as Jenkins would load it: this repository's HEAD, at a tag.
    const clone = await run("git", ["clone", "--quiet", "--bare", repoRoot, bare], { cwd: dir });
    assert.equal(clone.code, 0, clone.stderr);
    const tag = await run("git", ["-C", bare, "tag", TAG, "HEAD"], { cwd: dir });
    assert.equal(tag.code, 0, tag.stderr);
    await mkdir(join(dir, "workspace"));
    env = {
      ...process.env,
      npm_config_cache: join(dir, "npm-cache"),
      npm_config_update_notifier: "false",
      npm_config_fund: "false",
      npm_config_audit: "false",
    };
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cliFor = (version: string): string => contract.defaultCli.replace("/LIBRARY_REPO", bare).replace("LIBRARY_VERSION", version);

  it("fetches the library's own version with npx and git, and runs its envoy-pipeline", async () => {
    const cli = cliFor(TAG);
    assert.match(cli, /^npx --yes --package='git\+file:\/\/\/.+#v0\.0\.0-default-cli-test' envoy-pipeline$/);

    const r = await run("/bin/sh", ["-c", `${cli} --help`], { cwd: join(dir, "workspace"), env });

    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: envoy-pipeline /);
    for (const stage of ["prepare", "build", "deploy", "scale", "verify", "teardown"]) assert.match(r.stdout, new RegExp(`\\n  ${stage} `));
  }, 300_000);

  it("fails for a version the repository does not have (no fallback to any other CLI)", async () => {
    const r = await run("/bin/sh", ["-c", `${cliFor("v9.9.9-missing")} --help`], { cwd: join(dir, "workspace"), env });

    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /Usage: envoy-pipeline/);
  }, 300_000);
});
