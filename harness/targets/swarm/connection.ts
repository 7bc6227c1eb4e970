// Which swarm the swarm target talks to: the one DOCKER_HOST's engine manages (a user's cluster),
// or else the throwaway cluster of `envoy-pipeline cluster up` (ENVOY_PIPELINE_CLUSTER or the
// default name). The harness never turns an engine into a manager: it only checks that it is one.
import type Dockerode from "dockerode";
import { z } from "zod";
import { ConfigError } from "../../config.ts";
import { type Cluster, findCluster, NODE_API_PORT } from "./cluster.ts";
import { DEFAULT_CLUSTER } from "./cluster-name.ts";

export interface SwarmConnection {
  /** The manager's engine API. */
  manager: Dockerode;
  /** `DOCKER_HOST` value for the docker CLI (stack deploy, service scale, stack rm). */
  dockerHost: string;
  /** Where the manager's host-mode ports are reached from here. */
  managerAddress: string;
  /** The throwaway cluster, when that is the swarm (null: a user's cluster through DOCKER_HOST). */
  cluster: Cluster | null;
}

/** The host part of a DOCKER_HOST URL (tcp://, ssh://, http(s)://); unix sockets are this machine. */
export function dockerHostAddress(dockerHost: string): string {
  return /^(?:tcp|ssh|http|https):\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:/]+)/.exec(dockerHost)?.[1] ?? "127.0.0.1";
}

const infoSchema = z.object({ Swarm: z.object({ LocalNodeState: z.string(), ControlAvailable: z.boolean().optional() }) });

export async function connectSwarm(host: Dockerode, env: NodeJS.ProcessEnv = process.env): Promise<SwarmConnection> {
  let conn: SwarmConnection;
  if (env.DOCKER_HOST) {
    conn = { manager: host, dockerHost: env.DOCKER_HOST, managerAddress: dockerHostAddress(env.DOCKER_HOST), cluster: null };
  } else {
    const name = env.ENVOY_PIPELINE_CLUSTER ?? DEFAULT_CLUSTER;
    const cluster = await findCluster(host, name);
    if (!cluster) {
      throw new ConfigError(
        `--target swarm: no DOCKER_HOST and no cluster '${name}': run \`envoy-pipeline cluster up --nodes 3\` (or point DOCKER_HOST at a swarm manager)`,
      );
    }
    conn = {
      manager: cluster.manager.docker,
      dockerHost: `tcp://${cluster.manager.ip}:${NODE_API_PORT}`,
      managerAddress: cluster.manager.ip,
      cluster,
    };
  }
  const parsed = infoSchema.safeParse(await conn.manager.info());
  const state = parsed.success ? parsed.data.Swarm.LocalNodeState : "unknown";
  if (!parsed.success || state !== "active" || parsed.data.Swarm.ControlAvailable !== true) {
    throw new ConfigError(
      `--target swarm: ${conn.dockerHost} is not a swarm manager (swarm state: ${state}); this harness never turns an engine into one`,
    );
  }
  return conn;
}
