// Once per test run: the harness's state folder (.envoy-pipeline/: images.json) is a temporary
// folder, removed at the end, so that no test reads or writes the user's. Worker processes inherit
// the variable.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "ept-state-"));
  process.env.ENVOY_PIPELINE_STATE_DIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
