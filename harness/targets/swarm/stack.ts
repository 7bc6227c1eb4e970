// The swarm target's deploy, scale and teardown: `docker stack deploy` of the stack file rendered from the
// compose stack's model (stack-file.ts), `docker service scale`, `docker stack rm`.
// Design notes: docs/swarm.md ("targets/swarm/stack.ts").
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mustRun } from "../../docker/exec.ts";
import { pollUntil } from "../../lib/poll.ts";
import { log, waitingFor } from "../../lib/log.ts";
import { readStackModel, type StackModel } from "../../render/model.ts";
import { loadImages } from "./cluster.ts";
import type { SwarmConnection } from "./connection.ts";
import { swarmEnvoyConfig, swarmStackYaml } from "./stack-file.ts";
import { STACK_LABEL, serviceTasks, stackService, swarmNodes } from "./tasks.ts";

/** The docker CLI against the swarm's manager. */
const swarmDocker = (conn: SwarmConnection, args: string[], what: string) =>
  mustRun("docker", args, { env: { ...process.env, DOCKER_HOST: conn.dockerHost }, what });

/**
 * Polls until every listed service has exactly its replicas running (a task is "running" only
 * once its health check passed) and no task that swarm asked to stop is still running.
 */
export async function waitForTasks(conn: SwarmConnection, stack: string, want: Record<string, number>, timeoutMs: number): Promise<void> {
  let pending: string[] = [];
  await pollUntil(
    async () => {
      pending = [];
      for (const [service, n] of Object.entries(want)) {
        const tasks = await serviceTasks(conn.manager, stack, service);
        const current = tasks.filter((t) => t.DesiredState === "running");
        const running = current.filter((t) => t.Status.State === "running").length;
        const stopping = tasks.filter((t) => t.DesiredState !== "running" && t.Status.State === "running").length;
        if (running !== n || current.length !== n || stopping > 0) {
          const states = current.map((t) => `${t.Status.State}${t.Status.Err ? ` (${t.Status.Err})` : ""}`).join(", ") || "no tasks";
          pending.push(`${service} ${running}/${n} running [${states}]${stopping > 0 ? `, ${stopping} still stopping` : ""}`);
        }
      }
      return pending.length === 0 ? true : undefined;
    },
    {
      timeoutMs,
      intervalMs: 500,
      timeoutError: () => new Error(`swarm tasks of ${stack} did not converge in ${(timeoutMs / 1000).toFixed(0)}s: ${pending.join("; ")}`),
    },
  );
}

/**
 * Copies the stack's images into the throwaway cluster's ready nodes (no registry: a node without
 * an image rejects its tasks, moby#31169): the backends everywhere, the rest to the manager, where
 * they are placed. A user's swarm (DOCKER_HOST) gets its images from the user's registry.
 */
export async function distributeImages(conn: SwarmConnection, model: StackModel): Promise<void> {
  if (!conn.cluster) return;
  const { manager, nodes } = conn.cluster;
  const ready = new Set([...(await swarmNodes(manager.docker)).values()].filter((n) => n.state === "ready").map((n) => n.hostname));
  // A stopped node gets nothing: it runs no task until it is back.
  const workers = nodes.filter((n) => n.role === "worker" && ready.has(n.name));
  const backends = [...new Set(model.backends.map((b) => b.image))];
  await waitingFor(`copying the images into ${workers.length + 1} swarm nodes (only what they lack)`, async () => {
    await loadImages([manager], [...backends, model.envoy.image, model.prometheus.image, model.zipkin.image]);
    await loadImages(workers, backends);
  });
}

export interface SwarmDeployOptions {
  stack: string;
  model: StackModel;
  listenerPort: number;
  adminPort: number;
  timeoutMs: number;
  /** Replicas per backend (default 1: the scale stage sets the config's scale afterwards). */
  replicas?: number;
  /** Backends deployed on swarm's default virtual IP (only to prove that verify catches it). */
  vipBackends?: readonly string[];
}

/** `docker stack deploy` of the rendered stack, then waits until its tasks run. */
export async function swarmUp(conn: SwarmConnection, opts: SwarmDeployOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `envoy-pipeline-swarm-${opts.stack}-`));
  try {
    const envoyConfig = swarmEnvoyConfig(opts.model, opts.vipBackends);
    writeFileSync(join(dir, "envoy.yaml"), envoyConfig);
    const stackFile = join(dir, "stack.yml");
    writeFileSync(
      stackFile,
      swarmStackYaml(opts.model, {
        initialReplicas: opts.replicas ?? 1,
        listenerPort: opts.listenerPort,
        adminPort: opts.adminPort,
        envoyConfigFile: "./envoy.yaml",
        envoyConfigHash: createHash("sha256").update(envoyConfig).digest("hex"),
        ...(opts.vipBackends ? { vipBackends: opts.vipBackends } : {}),
      }),
    );
    await distributeImages(conn, opts.model);
    // --resolve-image never: the images are the nodes' own, there is no registry (moby#29676).
    await swarmDocker(
      conn,
      ["stack", "deploy", "--resolve-image", "never", "--prune", "-c", stackFile, opts.stack],
      `docker stack deploy ${opts.stack}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const { model } = opts;
  const want = Object.fromEntries([
    ...model.backends.map((b) => [b.name, opts.replicas ?? 1] as const),
    ...[model.envoy.name, model.prometheus.name, model.zipkin.name].map((n) => [n, 1] as const),
  ]);
  await waitingFor(`the swarm tasks of ${opts.stack} to run (health checks)`, () => waitForTasks(conn, opts.stack, want, opts.timeoutMs));
}

/** `docker service scale`, then waits until exactly those tasks run. */
export async function swarmScale(conn: SwarmConnection, stack: string, target: Record<string, number>, timeoutMs: number): Promise<void> {
  const specs = Object.entries(target).map(([s, n]) => `${stackService(stack, s)}=${n}`);
  await swarmDocker(conn, ["service", "scale", "--detach", ...specs], `docker service scale ${specs.join(" ")}`);
  await waitForTasks(conn, stack, target, timeoutMs);
}

export interface SwarmDownResult {
  services: string[];
  seconds: number;
}

/** `docker stack rm`, then waits until the stack's services, network and containers are gone. */
export async function swarmDown(conn: SwarmConnection, stack: string, timeoutMs: number): Promise<SwarmDownResult> {
  const t0 = Date.now();
  const filters = { label: [`${STACK_LABEL}=${stack}`] };
  const services = (await conn.manager.listServices({ filters })).map((s) => s.Spec?.Name ?? s.ID ?? "?");
  if (services.length > 0) await swarmDocker(conn, ["stack", "rm", stack], `docker stack rm ${stack}`);
  // Containers go on every node; the network goes once they have. The manager sees its own.
  let left = 0;
  await pollUntil(
    async () => {
      const counts = await Promise.all([
        conn.manager.listServices({ filters }).then((l) => l.length),
        conn.manager.listNetworks({ filters }).then((l) => l.length),
        conn.manager.listContainers({ all: true, filters }).then((l) => l.length),
      ]);
      left = counts.reduce((a, b) => a + b, 0);
      return left === 0 ? true : undefined;
    },
    {
      timeoutMs,
      intervalMs: 500,
      timeoutError: () =>
        new Error(`docker stack rm ${stack}: ${left} services, networks or containers still there after ${timeoutMs / 1000}s`),
    },
  );
  log.info(`  stack ${stack}: ${services.length} services removed`);
  return { services, seconds: (Date.now() - t0) / 1000 };
}

/** The model the swarm target deploys: the compose stack's, with this run's image tag and base images. */
export function swarmModel(composeFile: string, scale: Record<string, number>, composeEnv: Record<string, string>): StackModel {
  return readStackModel({ composeFile, scale, imageTag: composeEnv.IMAGE_TAG ?? "latest", vars: composeEnv });
}
