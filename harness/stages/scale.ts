// scale: the target sets each service's replica count, then the stage waits until Envoy routes to
// exactly the new set of replicas, all passing its health check.
import { log } from "../lib/log.ts";
import { routeFor } from "../stack/routes.ts";
import { measureConvergence, type ConvergenceResult } from "../verify/convergence.ts";
import type { ReplicaContainer, StackEndpoints } from "../stack/discover.ts";
import type { StageContext } from "./context.ts";
import { waitForEnvoy } from "../stack/envoy-wait.ts";

export interface ScaleResult {
  seconds: number;
  /** Seconds from the target having started the replicas until Envoy routed to all of them. */
  envoyConvergenceSeconds: number;
  endpoints: StackEndpoints;
  replicas: Record<string, ReplicaContainer[]>;
}

/** Has the target set each service's replicas (its health checks awaited), nothing more. */
export async function applyScale(ctx: StageContext, target: Record<string, number>): Promise<void> {
  if (Object.keys(target).length === 0) throw new Error("scale: no service to scale (the scale map is empty)");
  await ctx.target.scale(ctx, target);
}

/** Scales, then waits until Envoy routes to exactly the new replicas and traffic reaches each. */
export async function scale(ctx: StageContext, target: Record<string, number> = ctx.config.scale): Promise<ScaleResult> {
  const t0 = Date.now();
  await applyScale(ctx, target);
  return settleScale(ctx, target, t0);
}

/** After the target scaled: Envoy routes to exactly the new replicas, each reached by traffic. */
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
 * The scale stage with the verifier's convergence measurement: while the target scales, each scaled
 * service is probed through Envoy until the set of replicas answering is exactly the new set (new
 * ones in, removed ones out), timed from the start of the scale.
 */
export async function scaleMeasured(ctx: StageContext, target: Record<string, number> = ctx.config.scale): Promise<MeasuredScale> {
  const t0 = Date.now();
  const endpoints = await ctx.locator.endpoints();
  let scaling: Promise<void> | undefined;
  const doScale = (): Promise<void> => (scaling ??= applyScale(ctx, target));
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
