// Which compose project a stage acts on when no flag names one.
// Design notes: docs/stacks.md ("stack/project.ts").
import { createHash } from "node:crypto";
import { basename, resolve } from "node:path";
import { projectNameFromBuildTag } from "../lib/project-name.ts";

/** The project name for stages run from `folder` (the compose file's folder). */
export function checkoutProjectName(folder: string): string {
  const abs = resolve(folder);
  const hash = createHash("sha256").update(abs).digest("hex").slice(0, 6);
  const name = basename(abs)
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^[-_]+|[-_]+$/g, "")
    .slice(0, 30);
  return `envoy-pipeline-${name === "" ? "root" : name}-${hash}`;
}

/**
 * The default project of a single stage: from BUILD_TAG when Jenkins set it (the shared sanitiser,
 * harness/lib/project-name.ts), else the checkout's.
 */
export function stageDefaultProject(composeFolder: string, env: NodeJS.ProcessEnv = process.env): string {
  return projectNameFromBuildTag(env.BUILD_TAG ?? "") ?? checkoutProjectName(composeFolder);
}
