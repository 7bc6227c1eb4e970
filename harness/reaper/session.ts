// Whether this process's stack is Ryuk's to remove when the process dies.
// Design notes: docs/stacks.md ("reaper/session.ts").
import { RYUK } from "../images/versions.ts";

const userDisabled = process.env.TESTCONTAINERS_RYUK_DISABLED === "true";

/** How long a stack is meant to live, recorded on its containers (label envoy-pipeline.lifetime). */
export type StackLifetime = "process" | "kept" | "stages";

/** Whether a stack of this lifetime gets a reaper (the swarm target starts its own: targets/swarm/reaper.ts). */
export const reaperWanted = (lifetime: StackLifetime): boolean => !userDisabled && lifetime === "process";

export function useReaper(lifetime: StackLifetime): void {
  process.env.TESTCONTAINERS_RYUK_DISABLED = reaperWanted(lifetime) ? "false" : "true";
  // The reaper image prepare chose (RYUK.alias); testcontainers-node >= 12 reads it when it starts
  // the reaper. A user's RYUK_CONTAINER_IMAGE, or Testcontainers for Java's name for it, wins.
  process.env.RYUK_CONTAINER_IMAGE ??= process.env.TESTCONTAINERS_RYUK_CONTAINER_IMAGE ?? RYUK.alias;
  // One reaper per harness process. testcontainers-node otherwise reuses any running reaper of
  // the host (found by the image's org.testcontainers.ryuk label), and a reaper prunes only once
  // its last client is gone: with another pipeline running on the same host (parallel CI
  // executors), a killed run's stack would wait for that other run to end. Reapers carrying
  // TESTCONTAINERS_RYUK_TEST_LABEL are never reused by another process (testcontainers-node's
  // findReaperContainer skips them), which is exactly the isolation we want.
  if (lifetime === "process") process.env.TESTCONTAINERS_RYUK_TEST_LABEL ??= "true";
}
