// Stage by stage from a terminal, as a user runs them: deploy, scale, verify and teardown, each its
// own process with no project flag, act on the checkout's one stack; a stage without a stack says
// so in one line; `ls` lists the stacks with their owner and URLs; `teardown --stale` removes the
// stack whose owner was killed and keeps the others; teardown removes the image tags it made;
// without an engine, no stage installs or starts one. The "checkout" is a copy of the stack's
// files in a temporary folder, so the test never acts on the user's own stack of this checkout.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { repoRoot } from "../../harness/lib/paths.ts";
import { docker } from "../../harness/docker/engine.ts";
import { PROJECT_LABEL } from "../../harness/stack/discover.ts";
import { checkoutProjectName } from "../../harness/stack/project.ts";
import { teardown } from "../../harness/stack/teardown.ts";
import { runCli, type CliRun } from "../support/cli.ts";
import { testRunId } from "../support/names.ts";

const lsSchema = (
  text: string,
): Array<{
  project: string;
  lifetime: string;
  checkout: string;
  pid: number | null;
  running: number;
  containers: number;
  urls: Record<string, string>;
}> => JSON.parse(text) as never;

const tail = (r: CliRun): string => r.stderr.slice(-1500);

describe("single stages share the checkout's stack", { timeout: 600_000 }, () => {
  // envoy-pipeline-<folder>-<hash>: the folder name carries this test run's id.
  const parent = mkdtempSync(join(tmpdir(), "ept-stages-"));
  const checkout = join(parent, `ept-${testRunId}-checkout`);
  const project = checkoutProjectName(checkout);
  const stale = `envoy-pipeline-ept-${testRunId}-stale`;
  const reportDir = join(parent, "reports");
  const env = { ENVOY_PIPELINE_COMPOSE_FILE: join(checkout, "docker-compose.yml"), ENVOY_PIPELINE_REPORT_DIR: reportDir };
  const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliRun> => runCli(args, { env: { ...env, ...extra } });

  beforeAll(() => {
    for (const part of ["docker-compose.yml", "envoy", "prometheus", "services"]) {
      cpSync(resolve(repoRoot, part), join(checkout, part), { recursive: true, filter: (src) => !/[/\\](node_modules|dist)$/.test(src) });
    }
  });
  afterAll(async () => {
    for (const p of [project, stale]) await teardown(docker(), p);
    rmSync(parent, { recursive: true, force: true });
  });

  // One stack for the file: deployed by the first test, swept and torn down by the last.
  let built: string[] = [];

  it("deploy, scale, verify run one after another on one stack, with no flag; ls shows whose it is", async () => {
    const deployed = await cli(["deploy"]);
    assert.equal(deployed.code, 0, tail(deployed));
    assert.match(deployed.stderr, new RegExp(`deployed ${project} in`));

    const scaled = await cli(["scale", "--scale", "service1=2,service2=1"]);
    assert.equal(scaled.code, 0, tail(scaled));
    assert.match(scaled.stderr, /service1: 2 replicas/);

    // No --scale: verify checks the stack against what scale applied to it, not the config's 3+3.
    const verified = await cli(["verify", "--requests", "200"]);
    assert.equal(verified.code, 0, tail(verified));
    assert.match(verified.stderr, /desired state as last applied to the stack: service1=2, service2=1/);
    assert.match(verified.stderr, new RegExp(`reports: ${reportDir}/verify.json`));
    // With --scale, against that: one replica of service1 is missing, and verify says so.
    const expectingMore = await cli(["verify", "--scale", "service1=3,service2=1", "--requests", "200"]);
    assert.equal(expectingMore.code, 1, tail(expectingMore));
    assert.match(
      expectingMore.stderr,
      /1 desired replica of service1 has no container at all \(2 of 3 exist: removed\? verify expects service1=3\)/,
    );

    // The stack outlived each stage's process: it belongs to the checkout, not to a pid.
    const listed = await cli(["ls", "--json"]);
    assert.equal(listed.code, 0, tail(listed));
    const mine = lsSchema(listed.stdout).find((s) => s.project === project);
    assert.ok(mine, `ls lists ${project}: ${listed.stdout}`);
    assert.equal(mine.lifetime, "stages");
    assert.equal(mine.checkout, checkout);
    assert.equal(mine.pid, null);
    assert.equal(mine.running, 6, "front-envoy, prometheus, zipkin, 2 + 1 replicas");
    assert.match(mine.urls.listener ?? "", /^http:\/\/127\.0\.0\.1:\d+\/service\/1$/);

    const images = new Set((await docker().listContainers({ filters: { label: [`${PROJECT_LABEL}=${project}`] } })).map((c) => c.Image));
    built = [...images].filter((i) => /^envoy-pipeline\/(service|front-envoy|stack-prometheus):[0-9a-f]{12}$/.test(i));
    assert.equal(built.length, 3, `three content-tagged images: ${[...images].join(", ")}`);
  });

  it("ls shows two stacks; teardown --stale removes the one whose owner was killed and keeps the live one", async () => {
    // A pipeline killed with Ryuk disabled by the user: only its owner label says it is abandoned.
    // Killed once verify starts: no compose child of it is still creating containers.
    const killed = await runCli(["pipeline", "--project", stale, "--scale", "service1=1,service2=1"], {
      env: { ...env, TESTCONTAINERS_RYUK_DISABLED: "true" },
      onStderr: (stderr, child) => {
        if (/== verify/.test(stderr)) child.kill("SIGKILL");
      },
    });
    assert.equal(killed.signal, "SIGKILL", tail(killed));

    const ls = await cli(["ls"]);
    assert.equal(ls.code, 0, tail(ls));
    process.stderr.write(`envoy-pipeline ls with two stacks up:\n${ls.stdout}`);
    assert.match(ls.stdout, /^PROJECT\s+AGE\s+STATE\s+OWNER\s+URLS/);
    assert.match(
      ls.stdout,
      new RegExp(`${project}\\s+\\S+\\s+running 6/6\\s+${checkout} \\(stages\\)\\s+http://127\\.0\\.0\\.1:\\d+/service/1`),
    );
    assert.match(ls.stdout, new RegExp(`${stale}\\s+\\S+\\s+running 5/5\\s+${checkout} pid \\d+ \\(process\\)`));

    const bad = await cli(["teardown", "--stale", "--older-than", "2 hours"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--older-than: '2 hours' is not an age/);

    const swept = await cli(["teardown", "--stale", "--match", `envoy-pipeline-ept-${testRunId}`]);
    assert.equal(swept.code, 0, tail(swept));
    assert.match(swept.stderr, new RegExp(`removed stale stack ${stale} \\(owner process \\d+ is gone\\)`));
    assert.match(swept.stderr, /1 stale stack\(s\) removed/);
    const count = async (p: string): Promise<number> =>
      (await docker().listContainers({ all: true, filters: { label: [`${PROJECT_LABEL}=${p}`] } })).length;
    assert.equal(await count(stale), 0);
    assert.equal(await count(project), 6, "the live checkout's stack stays");
  });

  it("teardown removes the stack and its unused image tags; then scale says there is no stack, naming it, exit 1", async () => {
    const down = await cli(["teardown"]);
    assert.equal(down.code, 0, tail(down));
    // The one volume: the marker of the scale last applied (harness/targets/compose/applied-scale.ts).
    assert.match(down.stderr, new RegExp(`removed 6 containers, 1 networks, 1 volumes, \\d+ image tags of ${project}`));
    assert.equal(built.length, 3);
    for (const ref of built) {
      const inUse = (await docker().listContainers({ all: true, filters: { ancestor: [ref] } })).length > 0;
      const present = await docker()
        .getImage(ref)
        .inspect()
        .then(
          () => true,
          () => false,
        );
      assert.equal(present, inUse, `${ref}: removed unless another stack uses it`);
    }

    const missing = await cli(["scale"]);
    assert.equal(missing.code, 1);
    const errors = missing.stderr.split("\n").filter((l) => /error/.test(l));
    assert.equal(errors.length, 1, missing.stderr);
    assert.match(errors[0] ?? "", new RegExp(`error: scale: no stack '${project}' on this Docker host`));

    const again = await cli(["teardown"]);
    assert.equal(again.code, 0, "nothing to remove is not a failure");
    assert.match(again.stderr, new RegExp(`no stack '${project}' on this Docker host: nothing to remove`));
  });
});

describe("stages never provision Docker", { timeout: 120_000 }, () => {
  const noEngine = { DOCKER_HOST: "unix:///nonexistent/docker.sock" };
  for (const args of [["ls"], ["teardown"], ["deploy"]]) {
    it(`${args.join(" ")} without an engine fails in one line, exit 1, installing and starting nothing`, async () => {
      const r = await runCli(args, { env: noEngine });
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0] ?? "", /error: no usable Docker engine: .*envoy-pipeline prepare/);
    });
  }

  it("prepare under Jenkins provisions only when asked (ENVOY_PIPELINE_PROVISION=1 or --provision)", async () => {
    const r = await runCli(["prepare"], { env: { ...noEngine, JENKINS_URL: "https://jenkins.example/" } });
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /provisioning it|apt-get|started dockerd/);
    assert.match(r.stderr, /under Jenkins only when asked: ENVOY_PIPELINE_PROVISION=1 or prepare --provision/);
  });
});
