// prepareImages() against the real Docker engine: every base image is there and works, and a
// second run changes nothing. On a host without a registry (as on the CI machines this was written
// on) the images are the local equivalents, so the pinned versions are checked exactly.
//   npx vitest run test/integration/images-prepare.test.ts
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { repoRoot } from "../../harness/lib/paths.ts";
import { ensureDockerEngine } from "../../harness/docker/engine.ts";
import { runCommand } from "../../harness/docker/exec.ts";
import { imagesFileSchema } from "../../harness/images/schema.ts";
import { IMAGE_NAMES, inspectImage, PINS, prepareImages, resolveImages, type ImageSet } from "../../harness/images/index.ts";

const prefix = `envoy-pipeline-images-test-${process.pid}`;
let counter = 0;

/** `docker run --rm` with a name of ours, so that a run killed by its timeout can be removed. */
async function dockerRun(args: string[], timeoutMs = 120_000): Promise<{ code: number; out: string }> {
  const name = `${prefix}-${++counter}`;
  const r = await runCommand("docker", ["run", "--rm", "--name", name, ...args], { timeoutMs });
  if (r.code !== 0) await runCommand("docker", ["rm", "-f", name]);
  return { code: r.code, out: `${r.stdout}${r.stderr}`.trim() };
}

describe("prepareImages (real engine)", { timeout: 30 * 60_000 }, () => {
  let first: ImageSet;
  const lines: string[] = [];

  beforeAll(async () => {
    await ensureDockerEngine();
    const t0 = Date.now();
    first = await prepareImages({ log: (l) => lines.push(l) });
    process.stderr.write(`prepareImages: ${((Date.now() - t0) / 1000).toFixed(1)} s, ${lines.length} log lines, source ${first.source}\n`);
  });

  afterAll(async () => {
    // Containers of ours that a failed assertion may have left (docker run --rm removes the rest).
    const r = await runCommand("docker", ["ps", "-aq", "--filter", `name=^${prefix}-`]);
    const ids = r.stdout.split("\n").filter((s) => s !== "");
    if (ids.length > 0) await runCommand("docker", ["rm", "-f", ...ids]);
  });

  it("names every image in env, and every one exists locally", async () => {
    assert.deepEqual(Object.keys(first.env).sort(), ["ENVOY_IMAGE", "NODE_IMAGE", "PROMETHEUS_IMAGE", "ZIPKIN_IMAGE"]);
    for (const name of IMAGE_NAMES) {
      const info = await inspectImage(first.images[name].ref);
      assert.ok(info, `${first.images[name].ref} is not present`);
      assert.equal(info.Id, first.images[name].id);
    }
  });

  it("writes .envoy-pipeline/images.json", () => {
    const file = imagesFileSchema.parse(JSON.parse(readFileSync(join(repoRoot, ".envoy-pipeline", "images.json"), "utf8")));
    assert.deepEqual(file.imageSet, first);
  });

  it("envoy: `envoy --version` is 1.40.0", async () => {
    const r = await dockerRun([first.env.ENVOY_IMAGE, "envoy", "--version"]);
    assert.equal(r.code, 0, r.out);
    assert.match(
      r.out,
      first.images.envoy.source === "local" ? new RegExp(`/${PINS.envoy.version.replace(/\./g, "\\.")}/`) : /\/1\.40\.\d+\//,
    );
  });

  it("envoy: has bash (compose health checks use /dev/tcp) and the official entry point behaviour", async () => {
    const r = await dockerRun(["--entrypoint", "bash", first.env.ENVOY_IMAGE, "-c", "id -u envoy && test -d /etc/envoy && echo ok"]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /ok$/);
    // Options alone run envoy, as the non-root envoy user.
    const v = await dockerRun([first.env.ENVOY_IMAGE, "--version"]);
    assert.equal(v.code, 0, v.out);
    assert.match(v.out, /envoy\s+version: /);
  });

  it("node: v24.21.0 with npm, user node is uid 1000", async () => {
    const r = await dockerRun([
      "--user",
      "node",
      first.env.NODE_IMAGE,
      "sh",
      "-c",
      "id -u; id -un; echo $HOME; node --version; npm --version",
    ]);
    assert.equal(r.code, 0, r.out);
    const [uid, user, home, nodeVersion, npmVersion] = r.out.split("\n").map((l) => l.trim());
    assert.equal(uid, "1000");
    assert.equal(user, "node");
    assert.equal(home, "/home/node");
    if (first.images.node.source === "local") {
      assert.equal(nodeVersion, `v${PINS.node.version}`);
      assert.equal(npmVersion, PINS.npm.version);
    } else {
      assert.match(nodeVersion ?? "", /^v24\./);
      assert.match(npmVersion ?? "", /^\d+\.\d+\.\d+$/);
    }
  });

  it("node: the default command is node", async () => {
    const r = await dockerRun([first.env.NODE_IMAGE, "-e", "console.log(process.version, process.getuid())"]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^v24\.\d+\.\d+ 0$/);
  });

  it("prometheus: `--version` works through the image's entry point", async () => {
    const r = await dockerRun([first.env.PROMETHEUS_IMAGE, "--version"]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /prometheus, version \d+\.\d+\.\d+/);
  });

  it("zipkin: the server jar is there (and java runs)", async () => {
    const check =
      first.images.zipkin.source === "local"
        ? "test -s /zipkin/zipkin.jar && java -version 2>&1 | head -1 && ls -l /zipkin/zipkin.jar"
        : "test -d /zipkin && ls /zipkin";
    const r = await dockerRun(["--entrypoint", "sh", first.env.ZIPKIN_IMAGE, "-c", check]);
    assert.equal(r.code, 0, r.out);
    if (first.images.zipkin.source === "local") assert.match(r.out, /openjdk version "17\./);
  });

  it("a second run rebuilds, downloads and pulls nothing", async () => {
    const again: string[] = [];
    const t0 = Date.now();
    const second = await prepareImages({ log: (l) => again.push(l) });
    const seconds = (Date.now() - t0) / 1000;
    process.stderr.write(`second prepareImages: ${seconds.toFixed(2)} s\n`);
    assert.deepEqual(second, first, "image ids or references changed");
    assert.deepEqual(
      again.filter((l) => /^(building|downloading|pulled)/.test(l)),
      [],
      `the second run did work:\n${again.join("\n")}`,
    );
  });

  it("resolveImages() gives the same set, without building", async () => {
    const resolved = await resolveImages();
    assert.deepEqual(resolved, first);
  });
});
