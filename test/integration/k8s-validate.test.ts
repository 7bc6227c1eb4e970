// The rendered Kubernetes manifests (and the swarm target's Envoy configuration) against the Kubernetes OpenAPI schemas, offline, with the
// pinned kubernetes-validate (installed into .cache/ on first use: minutes once, then instant).
// No cluster is involved: none can run here (see docs/kubernetes.md).
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../harness/config.ts";
import { repoRoot } from "../../harness/lib/paths.ts";
import { readStackModel } from "../../harness/render/model.ts";
import { swarmEnvoyConfig } from "../../harness/targets/swarm/stack-file.ts";
import { renderK8s } from "../../harness/targets/k8s/render.ts";
import { ensureValidator, validateManifests } from "../../harness/targets/k8s/validate.ts";
import { mustRun } from "../../harness/docker/exec.ts";
import { parseAllDocuments } from "yaml";
import { ensureEnvoy } from "../fixtures/local-envoy.ts";

let dir: string;
let files: string[];
let validator: string;

beforeAll(async () => {
  validator = await ensureValidator();
  dir = await mkdtemp(join(tmpdir(), "envoy-pipeline-k8s-"));
  files = await renderK8s(loadConfig({ cli: { projectName: "k8s-test" }, env: {} }), join(dir, "out"), {
    namespace: "envoy-pipeline",
    imageTag: "latest",
  });
}, 900_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A copy of one rendered file with `edit` applied, in the temporary folder. */
async function edited(name: string, edit: (text: string) => string): Promise<string> {
  const source = files.find((f) => f.endsWith(`/${name}`));
  if (!source) throw new Error(`no ${name} rendered`);
  const path = join(dir, `bad-${name}`);
  const text = await readFile(source, "utf8");
  const changed = edit(text);
  expect(changed).not.toBe(text);
  await writeFile(path, changed);
  return path;
}

describe("Kubernetes manifests, validated offline", () => {
  it("every rendered manifest is valid against the Kubernetes schemas (strict)", async () => {
    expect(files.length).toBeGreaterThanOrEqual(6);
    const result = await validateManifests(files, validator);
    expect(result.problems).toEqual([]);
    expect(result.passed).toBe(true);
  });

  it("says no to a misspelt field, naming it", async () => {
    const bad = await edited("service1.yaml", (t) => t.replace("  replicas: 3\n", "  replicaz: 3\n"));
    const result = await validateManifests([bad], validator);
    expect(result.passed).toBe(false);
    expect(result.problems.join("\n")).toMatch(/deployment\/service1.*'replicaz' was unexpected/);
  });

  it("says no to a value of the wrong type", async () => {
    const bad = await edited("front-envoy.yaml", (t) => t.replace("clusterIP: None", "clusterIP: [None]"));
    const result = await validateManifests([bad], validator);
    expect(result.passed).toBe(false);
    expect(result.problems.join("\n")).toMatch(/service\/front-envoy/);
  });

  it("Envoy's ConfigMap holds a configuration the pinned Envoy loads (envoy --mode validate)", async () => {
    const source = files.find((f) => f.endsWith("/front-envoy.yaml")) ?? "";
    const configMap = parseAllDocuments(await readFile(source, "utf8"))
      .map((d) => d.toJS() as { kind: string; data?: Record<string, string> })
      .find((m) => m.kind === "ConfigMap");
    const config = join(dir, "envoy-k8s.yaml");
    await writeFile(config, configMap?.data?.["envoy.yaml"] ?? "");
    const r = await mustRun(await ensureEnvoy(), ["--mode", "validate", "-c", config, "--log-level", "warn"]);
    expect(r.stdout + r.stderr).toMatch(/configuration .* OK/);
  });

  it("the swarm target's envoy.yaml (STRICT_DNS on tasks.<service>) loads in the pinned Envoy too", async () => {
    const config = join(dir, "envoy-swarm.yaml");
    const model = readStackModel({
      composeFile: join(repoRoot, "docker-compose.yml"),
      scale: { service1: 3, service2: 3 },
      imageTag: "latest",
    });
    await writeFile(config, swarmEnvoyConfig(model));
    const r = await mustRun(await ensureEnvoy(), ["--mode", "validate", "-c", config, "--log-level", "warn"]);
    expect(r.stdout + r.stderr).toMatch(/configuration .* OK/);
  });
});
