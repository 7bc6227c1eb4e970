// deploy: `docker compose up` through Testcontainers, waiting on every container's health check
// and then on Envoy reporting each service's replicas healthy. No sleeps: only observed state.
// First: it names the reaper image before "testcontainers" is loaded (harness/reaper/session.ts).
import { composeEnvironmentFor } from "../stack/compose-environment.ts";
import { EnvoyAdmin } from "../envoy/admin.ts";
import { applyTracingSampling } from "../envoy/tracing-sampling.ts";
import { log, waitingFor } from "../log.ts";
import { runningReplicas, stackEndpoints, type ReplicaContainer, type StackEndpoints } from "../stack/discover.ts";
import { waitForEnvoy } from "../stack/envoy-wait.ts";
import type { StageContext } from "./context.ts";

export interface DeployResult {
  seconds: number;
  endpoints: StackEndpoints;
  replicas: Record<string, ReplicaContainer[]>;
}

export async function deploy(ctx: StageContext): Promise<DeployResult> {
  const t0 = Date.now();
  await waitingFor(`compose up of project ${ctx.config.projectName} (health checks)`, () => composeEnvironmentFor(ctx).up());
  const endpoints = await stackEndpoints(ctx.docker, ctx.config.projectName);
  // Before any traffic: the sampling rate holds for everything the pipeline sends from here on.
  await applyTracingSampling(new EnvoyAdmin(endpoints.adminUrl), ctx.config.tracing.sampling);
  log.info(`  Envoy traces ${ctx.config.tracing.sampling} % of requests (tracing.sampling)`);
  const services = Object.keys(ctx.config.scale);
  await waitForEnvoy(ctx, endpoints, services);
  const replicas: Record<string, ReplicaContainer[]> = {};
  for (const service of services) replicas[service] = await runningReplicas(ctx.docker, ctx.config.projectName, service);
  return { seconds: (Date.now() - t0) / 1000, endpoints, replicas };
}
