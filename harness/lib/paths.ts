// Where the checkout is, for defaults that point into it (docker-compose.yml, images, the CLI).
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const twoUp = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * The repository root (or the installed package's folder): the folder holding harness/,
 * docker-compose.yml, envoy/ and services/. The compiled CLI runs from dist/harness/, one level deeper.
 */
export const repoRoot = existsSync(join(twoUp, "package.json")) ? twoUp : resolve(twoUp, "..");
