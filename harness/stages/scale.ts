// scale: sets each service's replica count (`compose up --scale`, or `docker service scale` with
// --target swarm), then waits until Envoy routes to exactly the new set of replicas, all passing
// its health check.
import { log, waitingFor } from "../lib/log.ts";
import { routeFor } from "../stack/routes.ts";
import { measureConvergence, type ConvergenceResult } from "../verify/convergence.ts";
import type { ReplicaContainer, StackEndpoints } from "../stack/discover.ts";
import { swarmScale } from "../targets/swarm/stack.ts";
import { drainThenStop } from "../xds/drain.ts";
import type { StageContext } from "./context.ts";
import { composeEnvironmentFor } from "../targets/compose/environment.ts";
import { waitForEnvoy } from "../stack/envoy-wait.ts";

export interface ScaleResult {
  seconds: number;
  /** Seconds from compose having started the replicas until Envoy routed to all of them. */
  envoyConvergenceSeconds: number;
  endpoints: StackEndpoints;
  replicas: Record<string, ReplicaContainer[]>;
}

/** `docker compose up --scale ...` through Testcontainers, waiting for the containers' health checks. */
export async function composeScale(ctx: StageContext, target: Record<string, number>): Promise<void> {
  const services = Object.keys(target);
  if (services.length === 0) throw new Error("scale: no service to scale (the scale map is empty)");
  const description = services.map((s) => `${s}=${target[s]}`).join(" ");
  const swarm = ctx.swarm;
  if (swarm) {
    return waitingFor(`docker service scale ${description} (task states)`, () =>
      swarmScale(swarm, ctx.config.projectName, target, ctx.config.waitTimeoutSeconds * 1000),
    );
  }
  // xds: replicas that go away are drained in Envoy before they are stopped (harness/xds/drain.ts).
  if (ctx.config.discovery === "xds") await drainThenStop(ctx.docker, ctx.config.projectName, target);
  const scaleArgs = services.flatMap((s) => ["--scale", `${s}=${target[s]}`]);
  await waitingFor(`scaling ${description}`, () =>
    composeEnvironmentFor(ctx).withNoRecreate().withClientOptions({ commandOptions: scaleArgs }).up(services),
  );
}

/** Scales, then waits until Envoy routes to exactly the new replicas and traffic reaches each. */
export async function scale(ctx: StageContext, target: Record<string, number> = ctx.config.scale): Promise<ScaleResult> {
  const t0 = Date.now();
  await composeScale(ctx, target);
  return settleScale(ctx, target, t0);
}

/** After compose scaled: Envoy routes to exactly the new replicas, each reached by traffic. */
async function settleScale(ctx: StageContext, target: Record<string, number>, t0: number): Promise<ScaleResult> {
  const services = Object.keys(target);
  // Recorded first: whatever happens next, these are now the stack's desired replicas (verify's).
  await ctx.locator.recordScale({ ...((await ctx.locator.appliedScale()) ?? {}), ...target });
  const endpoints = await ctx.locator.endpoints();
  const converged = await waitForEnvoy(
    ctx,
    endpoints,
    services.filter((s) => (target[s] ?? 0) > 0),
  );
  const replicas: Record<string, ReplicaContainer[]> = {};
  for (const service of services) {
    replicas[service] = await ctx.locator.replicas(service);
    if (replicas[service].length !== target[service]) {
      throw new Error(`scale: ${service} has ${replicas[service].length} running replicas, expected ${target[service]}`);
    }
  }
  return { seconds: (Date.now() - t0) / 1000, envoyConvergenceSeconds: converged, endpoints, replicas };
}

export interface MeasuredScale extends ScaleResult {
  /** Per service: seconds from the start of the scale until exactly the new replicas get traffic. */
  convergence: Record<string, ConvergenceResult>;
}

/**
 * The scale stage with the verifier's convergence measurement: while compose scales, each scaled
 * service is probed through Envoy until the set of replicas answering is exactly the new set (new
 * ones in, removed ones out), timed from the start of the scale.
 */
export async function scaleMeasured(ctx: StageContext, target: Record<string, number> = ctx.config.scale): Promise<MeasuredScale> {
  const t0 = Date.now();
  const endpoints = await ctx.locator.endpoints();
  let scaling: Promise<void> | undefined;
  const doScale = (): Promise<void> => (scaling ??= composeScale(ctx, target));
  const measured = await Promise.all(
    Object.entries(target)
      .filter(([, replicas]) => replicas > 0)
      .map(async ([service]) => {
        const route = routeFor(service);
        const result = await measureConvergence({
          listenerUrl: endpoints.listenerUrl,
          path: route.path,
          serviceId: route.id,
          scale: doScale,
          expected: async () =>
            (await ctx.locator.replicas(service)).map((r) => ({
              name: r.name,
              hostname: r.hostname,
              ip: r.ip,
            })),
          timeoutSeconds: ctx.config.waitTimeoutSeconds,
        });
        log.info(`  ${service}: ${result.check.passed ? "converged" : "did NOT converge"}: ${result.check.reason}`);
        return [service, result] as const;
      }),
  );
  await doScale();
  // The rest of the stage as usual: Envoy's admin view and traffic agree (quick once converged).
  const result = await settleScale(ctx, target, t0);
  return { ...result, convergence: Object.fromEntries(measured) };
}
