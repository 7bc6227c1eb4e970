// The swarm target's reaper: what Testcontainers' Ryuk does for the compose target, for a stack whose life
// is the harness process's (lifetime "process": `pipeline` without --keep).
// Design notes: docs/swarm.md ("targets/swarm/reaper.ts").
import { connect, type Socket } from "node:net";
import type Dockerode from "dockerode";
import { z } from "zod";
import { localReaperImage } from "../../images/index.ts";
import { log } from "../../lib/log.ts";
import { loadImages } from "./cluster.ts";
import type { SwarmConnection } from "./connection.ts";
import { STACK_LABEL } from "./tasks.ts";

/** Which stack a swarm reaper container watches (to find it; the reaper never removes itself). */
export const REAPER_OF_LABEL = "envoy-pipeline.reaper-of";
const REAPER_PORT = "8080/tcp";

export interface SwarmReaper {
  /** The reaper container's id on the manager. */
  container: string;
  /** Closes the connection: the reaper prunes after its reconnection timeout (as a kill would). */
  close(): void;
}

/** Sockets kept open for the life of the process (unref'd: they never keep it alive). */
const held = new Set<Socket>();

const portsSchema = z.object({
  NetworkSettings: z.object({
    Ports: z.record(z.string(), z.array(z.object({ HostPort: z.string() })).nullable()),
  }),
});

/** Resolves once the container's log shows the reaper's `Started` line; rejects if it exits first. */
async function waitForStarted(container: Dockerode.Container, timeoutMs: number): Promise<void> {
  const stream = (await container.logs({ follow: true, stdout: true, stderr: true })) as NodeJS.ReadableStream & {
    destroy(): void;
  };
  await new Promise<void>((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => finish(new Error(`no 'Started' line within ${timeoutMs / 1000}s: ${text.trim()}`)), timeoutMs);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      stream.destroy();
      if (err) reject(err);
      else resolve();
    };
    stream.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8");
      if (/msg=Started\b/.test(text)) finish();
    });
    stream.on("end", () => finish(new Error(`it exited before it started: ${text.trim()}`)));
    stream.on("error", (err: Error) => finish(err));
  });
}

/** Connects, sends the filter line, resolves with the open socket once it is acknowledged. */
function register(host: string, port: number, filter: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => socket.write(`${filter}\n`));
    let answer = "";
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no ACK within ${timeoutMs / 1000}s`)));
    socket.setEncoding("utf8");
    const onData = (d: string): void => {
      answer += d;
      if (!answer.includes("ACK\n")) return;
      socket.setTimeout(0);
      socket.off("data", onData);
      socket.off("error", reject);
      resolve(socket);
    };
    socket.on("data", onData);
    socket.on("error", reject);
  });
}

/** Starts the reaper on the cluster's manager and registers `stack` with it; null for a user's swarm. */
export async function startSwarmReaper(
  conn: SwarmConnection,
  stack: string,
  opts: { timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<SwarmReaper | null> {
  const env = opts.env ?? process.env;
  if (!conn.cluster) {
    log.info(`  no reaper on the swarm at ${conn.dockerHost} (a user's cluster): a killed run leaves ${stack} to \`teardown\``);
    return null;
  }
  const { manager } = conn.cluster;
  const image = await localReaperImage({ log: (line) => log.info(`  ${line}`) });
  await loadImages([manager], [image]);
  const reconnection = env.TESTCONTAINERS_RYUK_RECONNECTION_TIMEOUT;
  const created = await manager.docker.createContainer({
    Image: image,
    Labels: { "org.testcontainers.ryuk": "true", [REAPER_OF_LABEL]: stack },
    Env: reconnection ? [`RYUK_RECONNECTION_TIMEOUT=${reconnection}`] : [],
    ExposedPorts: { [REAPER_PORT]: {} },
    HostConfig: {
      AutoRemove: true,
      Binds: ["/var/run/docker.sock:/var/run/docker.sock"],
      PortBindings: { [REAPER_PORT]: [{ HostPort: "" }] },
    },
  });
  await created.start();
  await waitForStarted(created, opts.timeoutMs);
  const parsed = portsSchema.safeParse(await created.inspect());
  const port = parsed.success ? Number(parsed.data.NetworkSettings.Ports[REAPER_PORT]?.[0]?.HostPort) : Number.NaN;
  if (!Number.isInteger(port) || port <= 0) {
    await created.remove({ force: true }).catch(() => undefined);
    throw new Error(`the swarm reaper on ${manager.name}: no published port for ${REAPER_PORT}`);
  }
  const socket = await register(manager.ip, port, `label=${STACK_LABEL}=${stack}`, opts.timeoutMs);
  // Never what keeps the process alive; closed by the kernel when the process ends or is killed.
  socket.unref();
  socket.on("error", (err) => log.warn(`swarm reaper connection: ${err.message}`));
  held.add(socket);
  socket.on("close", () => held.delete(socket));
  log.info(`  reaper on ${manager.name} (${manager.ip}:${port}) removes ${stack} if this process dies`);
  return { container: created.id, close: () => socket.end() };
}
