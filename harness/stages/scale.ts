// scale: sets each service's replica count (`compose up --scale`), then waits until Envoy routes to
// exactly the new set of replicas, all passing its health check.
import { waitingFor } from "../log.ts";
import { runningReplicas, stackEndpoints, type ReplicaInfo, type StackEndpoints } from "../stack/discover.ts";
import type { StageContext } from "./context.ts";
import { composeEnvironmentFor, waitForEnvoy } from "./deploy.ts";

export interface ScaleResult {
  seconds: number;
  /** Seconds from compose having started the replicas until Envoy routed to all of them. */
  envoyConvergenceSeconds: number;
  endpoints: StackEndpoints;
  replicas: Record<string, ReplicaInfo[]>;
}

export async function scale(ctx: StageContext, target: Record<string, number> = ctx.config.scale): Promise<ScaleResult> {
  const t0 = Date.now();
  const services = Object.keys(target);
  if (services.length === 0) throw new Error("scale: no service to scale (the scale map is empty)");
  const scaleArgs = services.flatMap((s) => ["--scale", `${s}=${target[s]}`]);
  const description = services.map((s) => `${s}=${target[s]}`).join(" ");
  await waitingFor(`scaling ${description}`, () =>
    composeEnvironmentFor(ctx)
      .withNoRecreate()
      .withClientOptions({ commandOptions: scaleArgs })
      .up(services),
  );
  const endpoints = await stackEndpoints(ctx.docker, ctx.config.projectName);
  const converged = await waitForEnvoy(ctx, endpoints, services.filter((s) => (target[s] ?? 0) > 0));
  const replicas: Record<string, ReplicaInfo[]> = {};
  for (const service of services) {
    replicas[service] = await runningReplicas(ctx.docker, ctx.config.projectName, service);
    if (replicas[service].length !== target[service]) {
      throw new Error(`scale: ${service} has ${replicas[service].length} running replicas, expected ${target[service]}`);
    }
  }
  return { seconds: (Date.now() - t0) / 1000, envoyConvergenceSeconds: converged, endpoints, replicas };
}
