// Scale-down in xds mode, the harness's side: drain first, then stop.
// Design notes: docs/xds.md ("xds/drain.ts").
import axios from "axios";
import type Dockerode from "dockerode";
import { z } from "zod";
import { formatIssues, PipelineError } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { projectContainers, runningReplicas, type ReplicaContainer } from "../stack/discover.ts";
import { CONTROL_PLANE_ADMIN_PORT } from "./admin-http.ts";

const drainResultSchema = z.object({
  drained: z.array(z.string()),
  unknown: z.array(z.string()),
  version: z.string().optional(),
  acked: z.boolean(),
});
export type DrainAnswer = z.infer<typeof drainResultSchema>;

export class DrainError extends PipelineError {
  override name = "DrainError";
}

/** The control plane's admin URL on the host (its published 18001), or undefined when it is not running. */
export async function controlPlaneAdminUrl(docker: Dockerode, project: string): Promise<string | undefined> {
  const [cp] = (await projectContainers(docker, project, "control-plane")).filter((c) => c.State.Running);
  const binding = cp?.NetworkSettings.Ports[`${CONTROL_PLANE_ADMIN_PORT}/tcp`]?.[0];
  if (!binding) return undefined;
  const host = binding.HostIp === "" || binding.HostIp === "0.0.0.0" ? "127.0.0.1" : binding.HostIp;
  return `http://${host}:${binding.HostPort}`;
}

/** Asks the control plane to drain these containers; resolves once Envoy ACKed it. */
export async function requestDrain(adminUrl: string, replicas: readonly string[], timeoutMs = 10_000): Promise<DrainAnswer> {
  const res = await axios.post(`${adminUrl}/drain`, { replicas, timeoutMs }, { timeout: timeoutMs + 5000, validateStatus: () => true });
  if (res.status !== 200) throw new DrainError(`control plane /drain: HTTP ${res.status}: ${JSON.stringify(res.data)}`);
  const parsed = drainResultSchema.safeParse(res.data);
  if (!parsed.success) throw new DrainError(`control plane /drain: unexpected answer: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

/** The replicas a scale to `target` removes: the highest-numbered ones, as compose picks them. */
export function surplus(replicas: readonly ReplicaContainer[], target: number): ReplicaContainer[] {
  return [...replicas].sort((a, b) => b.number - a.number).slice(0, Math.max(0, replicas.length - target));
}

/** For every service scaled down: drain its surplus replicas through the control plane, then stop and remove them. */
export async function drainThenStop(docker: Dockerode, project: string, target: Readonly<Record<string, number>>): Promise<string[]> {
  const going: ReplicaContainer[] = [];
  for (const [service, replicas] of Object.entries(target))
    going.push(...surplus(await runningReplicas(docker, project, service), replicas));
  if (going.length === 0) return [];
  const adminUrl = await controlPlaneAdminUrl(docker, project);
  if (!adminUrl)
    throw new DrainError(
      `discovery xds: no running control-plane container in project ${project} to drain ${going.map((r) => r.name).join(", ")}`,
    );
  const t0 = Date.now();
  const answer = await requestDrain(
    adminUrl,
    going.map((r) => r.name),
  );
  if (!answer.acked)
    throw new DrainError(`control plane drained ${answer.drained.join(", ")} but Envoy did not ACK EDS version ${answer.version ?? "?"}`);
  log.info(
    `  drained ${answer.drained.join(", ")} (EDS ${answer.version ?? "unchanged"} ACKed by Envoy in ${Date.now() - t0} ms); stopping them`,
  );
  await Promise.all(
    going.map(async (r) => {
      const c = docker.getContainer(r.name);
      await c.stop({ t: 3 }).catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 304) throw err;
      });
      await c.remove({ v: true });
    }),
  );
  return going.map((r) => r.name);
}
