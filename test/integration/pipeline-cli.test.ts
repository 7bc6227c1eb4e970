// The `pipeline` command as a user runs it: teardown happens when a stage fails and on Ctrl-C,
// and nothing of the project is left behind either way.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, it } from "vitest";
import { repoRoot } from "../../harness/lib/paths.ts";
import { docker } from "../../harness/docker/engine.ts";
import { projectContainers } from "../../harness/stack/discover.ts";
import { teardown } from "../../harness/stack/teardown.ts";
import { testProjectName } from "../support/names.ts";

const reportDir = mkdtempSync(join(tmpdir(), "ept-pipeline-reports-"));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; `interruptWhen` sends SIGINT once stderr matches it. */
function runCli(args: string[], interruptWhen?: RegExp): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", resolve(repoRoot, "harness/cli.ts"), ...args], {
      cwd: repoRoot,
      // Reports of a run that gets that far go to a temporary folder, never the checkout's reports/.
      env: { ...process.env, BUILD_TAG: "", ENVOY_PIPELINE_REPORT_DIR: reportDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let interrupted = false;
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
      if (interruptWhen && !interrupted && interruptWhen.test(stderr)) {
        interrupted = true;
        child.kill("SIGINT");
      }
    });
    child.on("error", fail);
    child.on("close", (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

describe("envoy-pipeline pipeline", { timeout: 600_000 }, () => {
  const projects: string[] = [];
  afterAll(async () => {
    rmSync(reportDir, { recursive: true, force: true });
    // Only if a test failed half-way: the assertions below expect nothing to be left.
    for (const p of projects) await teardown(docker(), p, { removeImages: true });
  });

  it("tears the stack down when a stage fails, and exits 1 with the reason", async () => {
    const project = testProjectName("pipeline-fail");
    projects.push(project);
    // A fixed container name: the scale stage fails after deploy has started the stack.
    const dir = mkdtempSync(join(tmpdir(), "ep-pipeline-"));
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ composeOverrides: [resolve(repoRoot, "test/fixtures/compose/unscalable-service2.yml")] }));
    const run = await runCli(["pipeline", "--project", project, "--config", config]);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(run.code, 1, run.stderr.slice(-2000));
    assert.match(run.stdout, /FAILED/);
    assert.match(run.stdout, /deploy\s+[\d.]+\s+ok/);
    assert.match(run.stdout, /scale\s+[\d.]+\s+FAILED/);
    assert.match(run.stdout, /teardown\s+[\d.]+\s+ok/);
    assert.equal((await projectContainers(docker(), project)).length, 0, "no container of the project is left");
  });

  it("tears the stack down on Ctrl-C (SIGINT) and exits 130", async () => {
    const project = testProjectName("pipeline-sigint");
    projects.push(project);
    const run = await runCli(["pipeline", "--project", project], /== scale/);
    assert.equal(run.code, 130, run.stderr.slice(-2000));
    assert.match(run.stderr, /SIGINT: tearing down/);
    const left = await projectContainers(docker(), project);
    assert.equal(
      left.length,
      0,
      `left: ${left.map((c) => `${c.Name} ${c.State.Status}`).join(", ")}\n${run.stderr
        .split("\n")
        .filter((l) => l.startsWith("["))
        .slice(-15)
        .join("\n")}`,
    );
    const nets = await docker().listNetworks({ filters: { label: [`com.docker.compose.project=${project}`] } });
    assert.equal(nets.length, 0, "no network of the project is left");
  });

  it("rejects a bad flag value with the field named and exit code 2, before touching Docker", async () => {
    const run = await runCli(["pipeline", "--scale", "service1=-2"]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /scale\.service1/);
  });

  it("rejects a scale map naming no compose service before starting anything", async () => {
    const project = testProjectName("pipeline-nosvc");
    const run = await runCli(["scale", "--project", project, "--scale", "service1=2,service3=1"]);
    assert.equal(run.code, 2, run.stderr.slice(-2000));
    assert.match(run.stderr, /scale\.service3: no such service in .*docker-compose\.yml \(services: .*service1/);
    assert.equal((await projectContainers(docker(), project)).length, 0);
  });
});
