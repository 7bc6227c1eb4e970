import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { formatIssues } from "../../harness/lib/errors.ts";
import {
  imageInspectSchema,
  imageSetSchema,
  imagesFileSchema,
  npmPackSchema,
  wheelRecordLineSchema,
  type ImageSet,
} from "../../harness/images/schema.ts";

const ID = `sha256:${"a".repeat(64)}`;

function localSet(): ImageSet {
  return {
    source: "local",
    env: {
      NODE_IMAGE: "envoy-pipeline/node:24.21.0-0123456789ab",
      ENVOY_IMAGE: "envoy-pipeline/envoy:1.40.0-0123456789ab",
      PROMETHEUS_IMAGE: "prom/prometheus:v3.14.0",
      ZIPKIN_IMAGE: "envoy-pipeline/zipkin:3.6.1-0123456789ab",
    },
    images: {
      node: { ref: "envoy-pipeline/node:24.21.0-0123456789ab", source: "local", id: ID },
      envoy: { ref: "envoy-pipeline/envoy:1.40.0-0123456789ab", source: "local", id: ID },
      prometheus: { ref: "prom/prometheus:v3.14.0", source: "official", id: ID },
      zipkin: { ref: "envoy-pipeline/zipkin:3.6.1-0123456789ab", source: "local", id: null },
    },
  };
}

function issues(result: { success: boolean; error?: unknown }): string {
  assert.equal(result.success, false);
  return formatIssues(result.error as Parameters<typeof formatIssues>[0]);
}

describe("ImageSet schema", () => {
  it("accepts a consistent set (mixed sources count as local)", () => {
    assert.deepEqual(imageSetSchema.parse(localSet()), localSet());
  });

  it("says which variable disagrees with its image", () => {
    const set = localSet();
    set.env.ENVOY_IMAGE = "envoyproxy/envoy:v1.40.0";
    assert.match(issues(imageSetSchema.safeParse(set)), /^env\.ENVOY_IMAGE: must equal images\.envoy\.ref/);
  });

  it("rejects 'official' when any image is local", () => {
    const set = { ...localSet(), source: "official" };
    assert.match(issues(imageSetSchema.safeParse(set)), /^source: must be "local"/);
  });

  it("rejects missing variables, unknown keys and malformed ids, with their paths", () => {
    const set = localSet() as unknown as { env: Record<string, string>; images: { node: { id: string } } };
    delete set.env.ZIPKIN_IMAGE;
    set.env.EXTRA = "x";
    set.images.node.id = "abc";
    const text = issues(imageSetSchema.safeParse(set));
    assert.match(text, /env\.ZIPKIN_IMAGE/);
    assert.match(text, /env: Unrecognized key/);
    assert.match(text, /images\.node\.id/);
  });

  it("wraps the set in .envoy-pipeline/images.json with a version", () => {
    const file = { version: 1, preparedAt: "2026-11-25T15:00:00.000Z", imageSet: localSet() };
    assert.deepEqual(imagesFileSchema.parse(file), file);
    assert.match(issues(imagesFileSchema.safeParse({ ...file, version: 2 })), /^version:/);
  });
});

describe("external JSON", () => {
  it("reads the parts of docker image inspect we use", () => {
    const parsed = imageInspectSchema.parse({
      Id: ID,
      RepoTags: ["a:b"],
      Size: 10,
      Config: { Labels: { "envoy-pipeline.inputs": "x" }, Env: [] },
      Os: "linux",
    });
    assert.equal(parsed.Config?.Labels?.["envoy-pipeline.inputs"], "x");
    assert.equal(imageInspectSchema.parse({ Id: ID, Size: 0, Config: { Labels: null } }).Config?.Labels, null);
    assert.match(issues(imageInspectSchema.safeParse({ Id: "nope", Size: 1 })), /^Id:/);
  });

  it("reads npm pack --json", () => {
    const ok = [{ id: "npm@11.21.2", filename: "npm-11.21.2.tgz", integrity: "sha512-x", shasum: "a".repeat(40), files: [] }];
    assert.equal(npmPackSchema.parse(ok)[0]?.filename, "npm-11.21.2.tgz");
    assert.match(issues(npmPackSchema.safeParse([{ ...ok[0], integrity: "md5" }])), /^0\.integrity:/);
    assert.match(issues(npmPackSchema.safeParse([])), /^\(root\):/);
  });

  it("reads wheel RECORD lines", () => {
    assert.ok(wheelRecordLineSchema.safeParse(["envoy/_bin/envoy", "sha256=ab-_Z9", "106905560"]).success);
    assert.match(issues(wheelRecordLineSchema.safeParse(["envoy/_bin/envoy", "md5=x", "1"])), /^1: must be sha256=/);
  });
});
