// Whether this process's stack is Ryuk's to remove when the process dies. Testcontainers decides
// when DockerComposeEnvironment.up() first runs (it reads TESTCONTAINERS_RYUK_DISABLED then and
// keeps its reaper for the life of the process), so deploy and scale call this just before.
//   - `pipeline` (one process, stack torn down at its end): Ryuk on. The compose project is
//     registered with the reaper; kill -9 of the harness -> the reaper removes the stack after
//     RYUK_RECONNECTION_TIMEOUT (Testcontainers' TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT, 10s).
//   - `pipeline --keep` and the single stages (`deploy`, then `scale` in another process): the
//     stack is meant to outlive the process, so it is not registered. `ls` shows it and
//     `teardown` / `teardown --stale` remove it.
// A user's TESTCONTAINERS_RYUK_DISABLED=true (set before start) is honoured: no reaper at all.
import "./testcontainers-env.ts";

const userDisabled = process.env.TESTCONTAINERS_RYUK_DISABLED === "true";

/** How long a stack is meant to live, recorded on its containers (label envoy-pipeline.lifetime). */
export type StackLifetime = "process" | "kept" | "stages";

export function useReaper(lifetime: StackLifetime): void {
  process.env.TESTCONTAINERS_RYUK_DISABLED = userDisabled || lifetime !== "process" ? "true" : "false";
}
