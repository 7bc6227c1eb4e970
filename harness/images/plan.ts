// What prepare builds: each base image's local tag and input hash, computed from files only
// (no Docker, no network).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../lib/paths.ts";
import { planBase, type BasePlan } from "./base.ts";
import { folderDigest, inputHash, localTag, sha256Hex } from "./hash.ts";
import { DEBIAN, IMAGE_NAMES, PINS, type ImageName } from "./versions.ts";

/** The CA bundle the node image takes from the host (see images/node/Dockerfile). */
export const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

export interface LocalImagePlan {
  name: ImageName;
  version: string;
  hash: string;
  tag: string;
  recipeDir: string;
  buildArgs: Record<string, string>;
}

export interface ImagePlan {
  base: BasePlan;
  images: Record<ImageName, LocalImagePlan>;
  /** The host CA bundle's bytes as hashed (empty when the host has none). */
  hostCa: Buffer;
}

export const VERSIONS: Record<ImageName, string> = {
  node: PINS.node.version,
  envoy: PINS.envoy.version,
  prometheus: `debian-${DEBIAN.suite}`,
  zipkin: PINS.zipkin.version,
};

/** The build args each Dockerfile takes (besides BASE_IMAGE). */
export const BUILD_ARGS: Record<ImageName, Record<string, string>> = {
  node: { NODE_VERSION: PINS.node.version, NPM_VERSION: PINS.npm.version },
  envoy: { ENVOY_VERSION: PINS.envoy.version },
  prometheus: {},
  zipkin: { ZIPKIN_VERSION: PINS.zipkin.version },
};

/** What else goes into each image (pinned artifacts and their checksums). */
export function pinnedInputs(name: ImageName): unknown {
  switch (name) {
    case "node":
      return { node: PINS.node, npm: PINS.npm };
    case "envoy":
      return PINS.envoy;
    case "prometheus":
      return { ...PINS.prometheus, suite: DEBIAN.suite };
    case "zipkin":
      return PINS.zipkin;
  }
}

/**
 * Every local image's tag and input hash. Pure apart from reading images/ and the host CA bundle;
 * `hostCa` may be passed to compute what a different bundle would give (tests).
 */
export function planImages(opts: { root?: string; hostCaBundle?: string; hostCa?: Buffer } = {}): ImagePlan {
  const imagesDir = join(opts.root ?? repoRoot, "images");
  const base = planBase(imagesDir);
  const hostCa = opts.hostCa ?? readHostCa(opts.hostCaBundle ?? HOST_CA_BUNDLE);
  const images = {} as Record<ImageName, LocalImagePlan>;
  for (const name of IMAGE_NAMES) {
    const recipeDir = join(imagesDir, name);
    const buildArgs = { BASE_IMAGE: base.tag, ...BUILD_ARGS[name] };
    const hash = inputHash({
      image: name,
      base: base.hash,
      files: folderDigest(recipeDir),
      pins: pinnedInputs(name),
      buildArgs,
      ...(name === "node" ? { hostCaSha256: sha256Hex(hostCa) } : {}),
    });
    images[name] = { name, version: VERSIONS[name], hash, tag: localTag(name, VERSIONS[name], hash), recipeDir, buildArgs };
  }
  return { base, images, hostCa };
}

export function readHostCa(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    return Buffer.alloc(0);
  }
}
