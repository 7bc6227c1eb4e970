// deploy: the target starts the stack and waits on its health checks, then Envoy must report each
// service's replicas healthy. No sleeps: only observed state.
import { EnvoyAdmin } from "../envoy/admin.ts";
import { applyTracingSampling } from "../envoy/tracing-sampling.ts";
import { log } from "../lib/log.ts";
import type { ReplicaContainer, StackEndpoints } from "../stack/discover.ts";
import { waitForEnvoy } from "../stack/envoy-wait.ts";
import type { StageContext } from "./context.ts";

export interface DeployResult {
  seconds: number;
  endpoints: StackEndpoints;
  replicas: Record<string, ReplicaContainer[]>;
}

export async function deploy(ctx: StageContext): Promise<DeployResult> {
  const t0 = Date.now();
  await ctx.target.up(ctx);
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
