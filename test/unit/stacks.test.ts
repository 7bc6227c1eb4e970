// Which project a stage acts on, who owns a stack and when it is stale, the content tag of the
// images, and when the harness may provision Docker: the decisions behind `ls`, `teardown --stale`
// and single stages, without Docker (the CLI against the real engine: test/integration/stacks-cli.test.ts).
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "vitest";
import { defaultProjectName, loadConfig } from "../../harness/config.ts";
import { repoRoot } from "../../harness/lib/paths.ts";
import { provisioningAllowed } from "../../harness/docker/engine.ts";
import { parseSettings } from "../../harness/settings.ts";
import { useReaper } from "../../harness/reaper/session.ts";
import { contentTag, contextDigest, type ComposeModel } from "../../harness/stack/image-tag.ts";
import { checkoutProjectName, stageDefaultProject } from "../../harness/stack/project.ts";
import { formatStacks, parseAge, staleReason, type OwnedStack } from "../../harness/stack/stacks.ts";

const stageConfig = (env: NodeJS.ProcessEnv, cli = {}) =>
  loadConfig({ env, cli, projectDefault: (folder) => stageDefaultProject(folder, env) });

describe("the project a stage acts on", () => {
  it("is the checkout's for single stages, the same from every process, distinct per checkout", () => {
    const a = stageConfig({});
    assert.equal(a.projectName, checkoutProjectName(repoRoot));
    assert.equal(stageConfig({}).projectName, a.projectName, "deploy, scale, verify, teardown agree");
    assert.match(checkoutProjectName("/home/me/Envoy Pipeline"), /^envoy-pipeline-envoy-pipeline-[0-9a-f]{6}$/);
    assert.notEqual(checkoutProjectName("/a/envoy-pipeline"), checkoutProjectName("/b/envoy-pipeline"));
  });

  it("is per run for pipeline; BUILD_TAG, ENVOY_PIPELINE_PROJECT and --project win", () => {
    assert.notEqual(loadConfig({ env: {} }).projectName, checkoutProjectName(repoRoot));
    assert.equal(stageConfig({ BUILD_TAG: "jenkins-job-7" }).projectName, defaultProjectName({ BUILD_TAG: "jenkins-job-7" }));
    assert.equal(stageConfig({ ENVOY_PIPELINE_PROJECT: "from-env" }).projectName, "from-env");
    assert.equal(stageConfig({ BUILD_TAG: "jenkins-job-7" }, { projectName: "from-flag" }).projectName, "from-flag");
  });

  it("follows the compose file a config names (its folder is the 'checkout')", () => {
    const c = stageConfig({}, { composeFile: resolve(repoRoot, "test/fixtures/compose/observability-broken.yml") });
    assert.equal(c.projectName, checkoutProjectName(resolve(repoRoot, "test/fixtures/compose")));
  });
});

const stack = (over: Partial<OwnedStack> = {}): OwnedStack => ({
  project: "envoy-pipeline-x",
  created: new Date(1_000_000),
  containers: 5,
  running: 5,
  checkout: "/src/app",
  buildTag: "",
  pid: 4242,
  host: "here",
  lifetime: "process",
  urls: { listener: "http://127.0.0.1:1/service/1" },
  ...over,
});

describe("stale stacks", () => {
  const probe = {
    now: 1_000_000 + 3_600_000,
    host: "here",
    pidAlive: (pid: number) => pid === 1,
    folderExists: (p: string) => p === "/src/app",
  };

  it("a stack whose owner process is gone (on this host) is stale; a live owner's is not", () => {
    assert.match(staleReason(stack(), null, probe) ?? "", /owner process 4242 is gone/);
    assert.equal(staleReason(stack({ pid: 1 }), null, probe), null);
  });

  it("another host's pid is not checked; a gone checkout is; age only with a limit", () => {
    assert.equal(staleReason(stack({ host: "elsewhere" }), null, probe), null);
    assert.match(staleReason(stack({ pid: null, checkout: "/gone" }), null, probe) ?? "", /checkout \/gone is gone/);
    assert.equal(staleReason(stack({ pid: null, lifetime: "stages" }), null, probe), null, "a single-stage stack of a live checkout stays");
    assert.match(staleReason(stack({ pid: null }), parseAge("30m"), probe) ?? "", /older than 30m/);
    assert.equal(staleReason(stack({ pid: null }), parseAge("2h"), probe), null);
  });

  it("reads ages like 2h, 30m, 90s, 1d, 1h30m and rejects others", () => {
    assert.equal(parseAge("1h30m"), 5_400_000);
    assert.equal(parseAge("1d"), 86_400_000);
    assert.ok(Number.isNaN(parseAge("2 hours")));
    assert.ok(Number.isNaN(parseAge("")));
  });

  it("ls shows project, age, state, owner and URLs", () => {
    const text = formatStacks(
      [stack(), stack({ project: "jenkins-b-2", buildTag: "jenkins-b-2", pid: null, running: 3, lifetime: "stages" })],
      probe.now,
      "here",
    );
    const [head, a, b] = text.trimEnd().split("\n");
    assert.match(head ?? "", /^PROJECT\s+AGE\s+STATE\s+OWNER\s+URLS$/);
    assert.match(
      a ?? "",
      /^envoy-pipeline-x\s+60m\s+running 5\/5\s+\/src\/app pid 4242 \(process\)\s+http:\/\/127\.0\.0\.1:1\/service\/1$/,
    );
    assert.match(b ?? "", /partial 3\/5\s+BUILD_TAG=jenkins-b-2 \(stages\)/);
    assert.match(formatStacks([]), /no stacks started by envoy-pipeline/);
  });
});

describe("image content tags", () => {
  const model = (context: string): ComposeModel => ({
    services: { s: { image: "envoy-pipeline/service:x", build: { context, args: { NODE_IMAGE: "n" } } } },
  });

  it("change with the build context and the base image ids, not with ignored files", () => {
    const dir = mkdtempSync(join(tmpdir(), "ept-tag-"));
    try {
      cpSync(resolve(repoRoot, "services"), dir, { recursive: true, filter: (src) => !/node_modules|dist/.test(src) });
      const base = contentTag(model(dir), { node: "sha256:1" });
      assert.match(base, /^[0-9a-f]{12}$/);
      assert.equal(contentTag(model(dir), { node: "sha256:1" }), base, "same inputs, same tag");
      writeFileSync(join(dir, "debug.log"), "ignored by .dockerignore");
      assert.equal(contentTag(model(dir), { node: "sha256:1" }), base);
      assert.ok(!("debug.log" in contextDigest(dir)));
      writeFileSync(join(dir, "src", "main.ts"), "// another commit\n", { flag: "a" });
      assert.notEqual(contentTag(model(dir), { node: "sha256:1" }), base, "different code, different tag");
      assert.notEqual(
        contentTag(model(dir), { node: "sha256:2" }),
        contentTag(model(dir), { node: "sha256:1" }),
        "another base image, another tag",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Docker provisioning", () => {
  it("is prepare's outside Jenkins; under Jenkins only when asked", () => {
    assert.equal(provisioningAllowed(parseSettings({})), true);
    assert.equal(provisioningAllowed(parseSettings({ JENKINS_URL: "https://ci/" })), false);
    assert.equal(provisioningAllowed(parseSettings({ JENKINS_URL: "https://ci/", ENVOY_PIPELINE_PROVISION: "1" })), true);
    assert.equal(provisioningAllowed(parseSettings({ ENVOY_PIPELINE_PROVISION: "false" })), false);
  });
});

describe("Ryuk per stack lifetime", () => {
  it("is on only for stacks that die with their process (pipeline), off for --keep and single stages", () => {
    const saved = process.env.TESTCONTAINERS_RYUK_DISABLED;
    try {
      useReaper("process");
      assert.equal(process.env.TESTCONTAINERS_RYUK_DISABLED, "false");
      useReaper("kept");
      assert.equal(process.env.TESTCONTAINERS_RYUK_DISABLED, "true");
      useReaper("stages");
      assert.equal(process.env.TESTCONTAINERS_RYUK_DISABLED, "true");
    } finally {
      if (saved === undefined) delete process.env.TESTCONTAINERS_RYUK_DISABLED;
      else process.env.TESTCONTAINERS_RYUK_DISABLED = saved;
    }
  });
});
