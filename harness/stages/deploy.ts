// deploy: `docker compose up` through Testcontainers, waiting on every container's health check
// (or, with --target swarm, `docker stack deploy` waiting on the tasks' states), and then on Envoy
// reporting each service's replicas healthy. No sleeps: only observed state.
// First: it names the reaper image before "testcontainers" is loaded (harness/reaper/session.ts).
import { composeEnvironmentFor } from "../targets/compose/environment.ts";
import { EnvoyAdmin } from "../envoy/admin.ts";
import { applyTracingSampling } from "../envoy/tracing-sampling.ts";
import { log, waitingFor } from "../lib/log.ts";
import type { ReplicaContainer, StackEndpoints } from "../stack/discover.ts";
import { waitForEnvoy } from "../stack/envoy-wait.ts";
import { ensureStackImages } from "../targets/compose/stack-images.ts";
import { reaperWanted } from "../reaper/session.ts";
import { startSwarmReaper } from "../targets/swarm/reaper.ts";
import { swarmModel, swarmUp } from "../targets/swarm/stack.ts";
import type { StageContext } from "./context.ts";

export interface DeployResult {
  seconds: number;
  endpoints: StackEndpoints;
  replicas: Record<string, ReplicaContainer[]>;
}

export async function deploy(ctx: StageContext): Promise<DeployResult> {
  const t0 = Date.now();
  if (ctx.swarm) {
    // `docker stack deploy` ignores `build:`: build what is missing, as `compose up` would.
    await ensureStackImages(ctx);
    // Before the stack exists: a kill at any point of the deploy leaves nothing running.
    if (reaperWanted(ctx.lifetime))
      await startSwarmReaper(ctx.swarm, ctx.config.projectName, { timeoutMs: ctx.config.waitTimeoutSeconds * 1000 });
    await swarmUp(ctx.swarm, {
      stack: ctx.config.projectName,
      model: swarmModel(ctx.config.composeFile, ctx.config.scale, ctx.composeEnv),
      listenerPort: ctx.config.ports.listener,
      adminPort: ctx.config.ports.admin,
      timeoutMs: ctx.config.waitTimeoutSeconds * 1000,
    });
  } else {
    await waitingFor(`compose up of project ${ctx.config.projectName} (health checks)`, () => composeEnvironmentFor(ctx).up());
  }
  const endpoints = await ctx.locator.endpoints();
  // Before any traffic: the sampling rate holds for everything the pipeline sends from here on.
  await applyTracingSampling(new EnvoyAdmin(endpoints.adminUrl), ctx.config.tracing.sampling);
  log.info(`  Envoy traces ${ctx.config.tracing.sampling} % of requests (tracing.sampling)`);
  const services = Object.keys(ctx.config.scale);
  await waitForEnvoy(ctx, endpoints, services);
  const replicas: Record<string, ReplicaContainer[]> = {};
  for (const service of services) replicas[service] = await ctx.locator.replicas(service);
  // What the stack now runs is its desired state until a scale says otherwise (verify reads it).
  await ctx.locator.recordScale(Object.fromEntries(services.map((s) => [s, replicas[s]?.length ?? 0])));
  return { seconds: (Date.now() - t0) / 1000, endpoints, replicas };
}
