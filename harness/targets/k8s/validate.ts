// Offline validation of Kubernetes manifests against the Kubernetes OpenAPI schemas, with PyPI's kubernetes-
// validate (pinned and installed into .cache/ by scripts/k8s-validator.sh) in strict mode.
// Design notes: docs/kubernetes.md ("targets/k8s/validate.ts").
import { resolve } from "node:path";
import { repoRoot } from "../../lib/paths.ts";
import { mustRun, runCommand } from "../../docker/exec.ts";

/** The Kubernetes release whose schemas the manifests are checked against. */
export const KUBERNETES_VERSION = "1.37.0";

export interface ValidationResult {
  passed: boolean;
  /** One line per manifest that failed: file, resource and what was wrong. */
  problems: string[];
}

/** Installs the validator when missing (minutes the first time, instant after) and returns its path. */
export async function ensureValidator(): Promise<string> {
  const r = await mustRun("sh", [resolve(repoRoot, "scripts/k8s-validator.sh")], { what: "installing kubernetes-validate" });
  const path = r.stdout.trim().split("\n").pop();
  if (!path) throw new Error("scripts/k8s-validator.sh printed no path");
  return path;
}

export async function validateManifests(files: readonly string[], validator?: string): Promise<ValidationResult> {
  const bin = validator ?? (await ensureValidator());
  const r = await runCommand(bin, ["--strict", "--quiet", "--kubernetes-version", KUBERNETES_VERSION, ...files]);
  const problems = `${r.stdout}\n${r.stderr}`
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /^(ERROR|WARN|CRITICAL)/.test(l));
  if (r.code !== 0 && problems.length === 0) problems.push(`kubernetes-validate exited ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  return { passed: r.code === 0 && problems.length === 0, problems };
}
