// deploy: `docker compose up` through Testcontainers, waiting on every container's health check
// and then on Envoy reporting each service's replicas healthy. No sleeps: only observed state.
// First: it names the reaper image before "testcontainers" is loaded (harness/reaper/session.ts).
import { useReaper } from "../reaper/session.ts";
import { dirname } from "node:path";
import { DockerComposeEnvironment } from "testcontainers";
import { EnvoyAdmin } from "../envoy/admin.ts";
import { applyTracingSampling } from "../envoy/tracing-sampling.ts";
import { log, waitingFor } from "../log.ts";
import { runningReplicas, stackEndpoints, type ReplicaContainer, type StackEndpoints } from "../stack/discover.ts";
import { waitForClusters, waitForTraffic } from "../stack/envoy-wait.ts";
import { composeFiles } from "../stack/compose.ts";
import { ExplainedHealthCheckWait } from "../stack/health-wait.ts";
import { routeFor } from "../stack/routes.ts";
import type { StageContext } from "./context.ts";

export interface DeployResult {
  seconds: number;
  endpoints: StackEndpoints;
  replicas: Record<string, ReplicaContainer[]>;
}

/**
 * A compose environment for this project: same file, variables and health-check waits. Ryuk
 * (Testcontainers' reaper) is on when the stack lives and dies with this process.
 */
export function composeEnvironmentFor(ctx: StageContext): DockerComposeEnvironment {
  useReaper(ctx.lifetime);
  return new DockerComposeEnvironment(dirname(ctx.config.composeFile), composeFiles(ctx.config))
    .withProjectName(ctx.config.projectName)
    .withEnvironment(ctx.composeEnv)
    .withDefaultWaitStrategy(new ExplainedHealthCheckWait())
    .withStartupTimeout(ctx.config.waitTimeoutSeconds * 1000);
}

/**
 * Waits until Envoy routes each service to exactly its running replicas, all healthy, and until
 * requests through the listener have reached every one of them.
 */
export async function waitForEnvoy(ctx: StageContext, endpoints: StackEndpoints, services: readonly string[]): Promise<number> {
  const admin = new EnvoyAdmin(endpoints.adminUrl);
  const t0 = Date.now();
  const timeoutMs = ctx.config.waitTimeoutSeconds * 1000;
  const onProgress = (pending: string): void => log.info(`  waiting: ${pending}`);
  await waitingFor(`Envoy to route to every replica of ${services.join(", ")}`, async () => {
    await waitForClusters(
      admin,
      services.map((service) => ({
        cluster: routeFor(service).cluster,
        replicas: () => runningReplicas(ctx.docker, ctx.config.projectName, service),
      })),
      { timeoutMs, onProgress },
    );
    for (const service of services) {
      const replicas = await runningReplicas(ctx.docker, ctx.config.projectName, service);
      await waitForTraffic(endpoints.listenerUrl, routeFor(service).path, replicas, {
        timeoutMs: Math.max(5000, timeoutMs - (Date.now() - t0)),
        onProgress,
      });
    }
  });
  return (Date.now() - t0) / 1000;
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
