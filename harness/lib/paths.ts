// Where the checkout is, for defaults that point into it (docker-compose.yml, images, the CLI).
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: the folder holding harness/, docker-compose.yml, envoy/ and services/. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
