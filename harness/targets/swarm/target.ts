// The swarm target: `docker stack deploy` of the rendered stack on a swarm's manager, with the
// images built here by compose and loaded into the nodes; Envoy finds tasks by DNS.
import type Dockerode from "dockerode";
import { waitingFor } from "../../lib/log.ts";
import { reaperWanted } from "../../reaper/session.ts";
import { teardown } from "../../stack/teardown.ts";
import { ensureStackImages } from "../../stack/stack-images.ts";
import type { Target } from "../target.ts";
import type { SwarmConnection } from "./connection.ts";
import { swarmLocator } from "./locator.ts";
import { startSwarmReaper } from "./reaper.ts";
import { swarmDown, swarmModel, swarmScale, swarmUp } from "./stack.ts";

export function swarmTarget(conn: SwarmConnection, host: Dockerode, stack: string, timeoutMs: number): Target {
  return {
    locator: swarmLocator(conn, stack),
    up: async (spec) => {
      // `docker stack deploy` ignores `build:`: build what is missing, as `compose up` would.
      await ensureStackImages(spec);
      // Before the stack exists: a kill at any point of the deploy leaves nothing running.
      if (reaperWanted(spec.lifetime)) await startSwarmReaper(conn, stack, { timeoutMs });
      await swarmUp(conn, {
        stack,
        model: swarmModel(spec.config.composeFile, spec.config.scale, spec.composeEnv),
        listenerPort: spec.config.ports.listener,
        adminPort: spec.config.ports.admin,
        timeoutMs,
      });
    },
    scale: (_spec, target) => {
      const description = Object.entries(target)
        .map(([s, n]) => `${s}=${n}`)
        .join(" ");
      return waitingFor(`docker service scale ${description} (task states)`, () => swarmScale(conn, stack, { ...target }, timeoutMs));
    },
    // `docker stack rm`, waiting until its services, network and containers are gone; then, on
    // this host, what compose built for it (the image tags), exactly as for the compose target.
    down: async () => {
      const t0 = Date.now();
      const down = await swarmDown(conn, stack, timeoutMs);
      const hostSide = await teardown(host, stack);
      return { ...hostSide, services: down.services, seconds: (Date.now() - t0) / 1000 };
    },
    // The images built on this host for a swarm stack go all the same.
    downAbsent: async () => {
      await teardown(host, stack);
    },
  };
}
