// Compose project names for tests: one prefix, so that leftovers are recognisable (and removable)
// without ever touching anybody else's projects on the same host.
import { randomBytes } from "node:crypto";

export const TEST_PROJECT_PREFIX = "ept-";

export function testProjectName(label: string): string {
  const clean = label.toLowerCase().replace(/[^a-z0-9]+/g, "-").slice(0, 24);
  return `${TEST_PROJECT_PREFIX}${clean}-${randomBytes(3).toString("hex")}`;
}
