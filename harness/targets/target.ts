// The seam between the stages and where the stack runs: one Target per run, picked once
// (select.ts). Stages call it and never ask which target or discovery mode is behind it.
import type Dockerode from "dockerode";
import type { PipelineConfig } from "../config.ts";
import type { StackLifetime } from "../reaper/session.ts";
import type { StackLocator } from "../stack/locator.ts";
import type { TeardownResult } from "../stack/teardown.ts";

/** What starting or scaling the stack needs of the stage context. */
export interface StackSpec {
  config: PipelineConfig;
  docker: Dockerode;
  /** Variables for `docker compose`: base images, image tag, ports, project, owner labels. */
  composeEnv: Record<string, string>;
  lifetime: StackLifetime;
  /** The images the compose file builds, under their content tags. */
  images: string[];
  /** Whether the base images are the official ones (a registry serves them) or local builds. */
  imageSource: string;
}

/** How Envoy learns the replicas (DNS or the xDS control plane), behind the target. */
export interface Discovery {
  /** Before a scale: takes the replicas that go away out of Envoy's rotation (a no-op where Envoy finds out itself). */
  beforeScale(target: Readonly<Record<string, number>>): Promise<void>;
}

export interface Target {
  /** Where the stack's parts are found (reads only). */
  readonly locator: StackLocator;
  /** Starts the stack and waits until its containers or tasks are healthy. */
  up(spec: StackSpec): Promise<void>;
  /** Sets each service's replicas and waits until exactly those run healthy. */
  scale(spec: StackSpec, target: Readonly<Record<string, number>>): Promise<void>;
  /** Removes the stack and what was built for it on this host; also when parts are already gone. */
  down(): Promise<TeardownResult>;
  /** After finding no stack: what the target leaves on this host all the same (a no-op for most). */
  downAbsent(): Promise<void>;
}
