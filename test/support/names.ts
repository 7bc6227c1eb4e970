// Compose project names for tests: `ept-<run>-<label>-<random>`. The run id (set by scripts/test.sh
// for a whole `npm test`) lets the leftovers check find what this run left behind, and only that:
// another run's test projects on the same host are not ours.
import { randomBytes } from "node:crypto";

export const TEST_PROJECT_PREFIX = "ept-";

export const testRunId: string = process.env.ENVOY_PIPELINE_TEST_RUN ?? randomBytes(2).toString("hex");

export function testProjectName(label: string): string {
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, 24);
  return `${TEST_PROJECT_PREFIX}${testRunId}-${clean}-${randomBytes(3).toString("hex")}`;
}

/** The prefix of every project this test run creates. */
export function thisRunPrefix(): string {
  return `${TEST_PROJECT_PREFIX}${testRunId}-`;
}
