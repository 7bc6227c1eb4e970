// The compose target: one Docker engine, the stack started and scaled by `docker compose`
// (through Testcontainers, with its health-check waits) and found by the project's labels.
// First: environment.ts names the reaper image before "testcontainers" is loaded.
import { composeEnvironmentFor } from "./environment.ts";
import type Dockerode from "dockerode";
import { waitingFor } from "../../lib/log.ts";
import { teardown } from "../../stack/teardown.ts";
import type { Discovery, StackSpec, Target } from "../target.ts";
import { composeLocator } from "./locator.ts";

export function composeTarget(docker: Dockerode, project: string, discovery: Discovery): Target {
  return {
    locator: composeLocator(docker, project),
    up: async (spec: StackSpec) => {
      await waitingFor(`compose up of project ${project} (health checks)`, () => composeEnvironmentFor(spec).up());
    },
    scale: async (spec, target) => {
      const services = Object.keys(target);
      await discovery.beforeScale(target);
      const scaleArgs = services.flatMap((s) => ["--scale", `${s}=${target[s]}`]);
      await waitingFor(`scaling ${services.map((s) => `${s}=${target[s]}`).join(" ")}`, () =>
        composeEnvironmentFor(spec).withNoRecreate().withClientOptions({ commandOptions: scaleArgs }).up(services),
      );
    },
    down: () => teardown(docker, project),
    downAbsent: async () => {},
  };
}
