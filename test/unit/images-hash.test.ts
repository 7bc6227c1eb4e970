import assert from "node:assert/strict";
import { appendFileSync, chmodSync, cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { repoRoot } from "../../harness/lib/paths.ts";
import { folderDigest, inputHash, localTag, parseIntegrity, stableStringify } from "../../harness/images/hash.ts";
import { planImages } from "../../harness/images/index.ts";
import { IMAGE_NAMES, INPUTS_LABEL, LOCAL_REPO_PREFIX } from "../../harness/images/versions.ts";

/** A scratch "repository" holding a copy of images/, so recipes can be edited freely. */
function scratchRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "ep-images-"));
  cpSync(join(repoRoot, "images"), join(root, "images"), { recursive: true });
  return root;
}

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const CA = Buffer.from("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");

describe("input hashes", () => {
  it("do not depend on key order, only on values", () => {
    assert.equal(stableStringify({ b: 1, a: { d: [1, 2], c: null } }), '{"a":{"c":null,"d":[1,2]},"b":1}');
    assert.equal(inputHash({ a: 1, b: 2 }), inputHash({ b: 2, a: 1 }));
    assert.notEqual(inputHash({ a: 1, b: 2 }), inputHash({ a: 1, b: 3 }));
    assert.notEqual(inputHash([1, 2]), inputHash([2, 1]));
  });

  it("are stable for unchanged inputs", () => {
    const root = scratchRoot();
    roots.push(root);
    const a = planImages({ root, hostCa: CA });
    const b = planImages({ root, hostCa: CA });
    for (const name of IMAGE_NAMES) assert.equal(a.images[name].hash, b.images[name].hash);
    assert.equal(a.base.hash, b.base.hash);
  });

  it("change for one image when its Dockerfile changes, and for no other", () => {
    const root = scratchRoot();
    roots.push(root);
    const before = planImages({ root, hostCa: CA });
    appendFileSync(join(root, "images", "envoy", "Dockerfile"), "\n# changed\n");
    const after = planImages({ root, hostCa: CA });
    assert.notEqual(after.images.envoy.hash, before.images.envoy.hash);
    assert.notEqual(after.images.envoy.tag, before.images.envoy.tag);
    for (const name of ["node", "prometheus", "zipkin"] as const) assert.equal(after.images[name].hash, before.images[name].hash);
    assert.equal(after.base.hash, before.base.hash);
  });

  it("change when a helper file's mode changes (the image would differ)", () => {
    const root = scratchRoot();
    roots.push(root);
    const before = planImages({ root, hostCa: CA });
    chmodSync(join(root, "images", "zipkin", "start-zipkin"), 0o644);
    assert.notEqual(planImages({ root, hostCa: CA }).images.zipkin.hash, before.images.zipkin.hash);
  });

  it("change for every image when the base recipe changes", () => {
    const root = scratchRoot();
    roots.push(root);
    const before = planImages({ root, hostCa: CA });
    appendFileSync(join(root, "images", "debian", "build-rootfs.sh"), "\n# changed\n");
    const after = planImages({ root, hostCa: CA });
    assert.notEqual(after.base.hash, before.base.hash);
    for (const name of IMAGE_NAMES) {
      assert.notEqual(after.images[name].hash, before.images[name].hash, name);
      assert.equal(after.images[name].buildArgs.BASE_IMAGE, after.base.tag);
    }
  });

  it("change only the node image when the host CA bundle changes", () => {
    const root = scratchRoot();
    roots.push(root);
    const a = planImages({ root, hostCa: CA });
    const b = planImages({ root, hostCa: Buffer.concat([CA, CA]) });
    assert.notEqual(a.images.node.hash, b.images.node.hash);
    for (const name of ["envoy", "prometheus", "zipkin"] as const) assert.equal(a.images[name].hash, b.images[name].hash);
  });

  it("name images envoy-pipeline/<name>:<version>-<hash12>", () => {
    const plan = planImages({ hostCa: CA });
    assert.match(plan.images.node.tag, /^envoy-pipeline\/node:24\.21\.0-[0-9a-f]{12}$/);
    assert.match(plan.images.envoy.tag, /^envoy-pipeline\/envoy:1\.40\.0-[0-9a-f]{12}$/);
    assert.match(plan.images.zipkin.tag, /^envoy-pipeline\/zipkin:3\.6\.1-[0-9a-f]{12}$/);
    assert.match(plan.images.prometheus.tag, /^envoy-pipeline\/prometheus:debian-bookworm-[0-9a-f]{12}$/);
    assert.match(plan.base.tag, /^envoy-pipeline\/debian:bookworm-[0-9a-f]{12}$/);
    assert.equal(localTag("x", "1", "0123456789abcdef"), `${LOCAL_REPO_PREFIX}/x:1-0123456789ab`);
    assert.equal(INPUTS_LABEL, "envoy-pipeline.inputs");
  });

  it("cover every file of a recipe folder", () => {
    const digest = folderDigest(join(repoRoot, "images", "envoy"));
    assert.deepEqual(Object.keys(digest).sort(), ["Dockerfile", "docker-entrypoint.sh", "envoy.yaml"]);
    assert.match(digest["docker-entrypoint.sh"] ?? "", /^[0-9a-f]{64}\+x$/);
    assert.match(digest.Dockerfile ?? "", /^[0-9a-f]{64}$/);
  });

  it("read npm integrity strings", () => {
    assert.deepEqual(parseIntegrity("sha512-AbC+/="), { algorithm: "sha512", base64: "AbC+/=" });
    assert.throws(() => parseIntegrity("md5:abc"), /not an integrity string/);
  });
});
