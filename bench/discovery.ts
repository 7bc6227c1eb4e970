// Discovery benchmark: DNS (STRICT_DNS, envoy/envoy.yaml) against xDS (the control plane over ADS,
// docker-compose.xds.yml), one stack per mode, in one run:
//   convergence  per new replica, from Docker's `health_status: healthy` event to the first answer
//                it gives through Envoy (requests flow all the time, 4 in flight), on a scale 1 → 3;
//                negative when Envoy sent it traffic before Docker called it healthy (DNS mode:
//                Envoy's own health check, not Docker's, decides);
//   scale-down   failed requests under steady load while service1 scales 3 → 1.
//
//   npm run bench -- --discovery dns,xds
import { Agent, get } from "node:http";
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { loadConfig, type PipelineConfig } from "../harness/config.ts";
import { build } from "../harness/stages/build.ts";
import { stageContext, type StageContext } from "../harness/stages/context.ts";
import { deploy } from "../harness/stages/deploy.ts";
import { applyScale, scale } from "../harness/stages/scale.ts";
import { teardown } from "../harness/stack/teardown.ts";
import { demuxLogs } from "../harness/stack/desired-state.ts";
import { PROJECT_LABEL, runningReplicas, SERVICE_LABEL } from "../harness/stack/discover.ts";
import { parseEventLines } from "../harness/xds/docker-source.ts";

type Mode = PipelineConfig["discovery"];

export interface DiscoveryFigures {
  mode: Mode;
  /** Seconds from "healthy" to first traffic, per new replica. */
  convergence: { replica: string; seconds: number | null }[];
  scaleDown: { requests: number; failed: number; sample: string[] };
}

/** Requests through Envoy, `inFlight` at a time, until stopped: first-seen time per hostname and failures. */
function traffic(url: string, inFlight = 4) {
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  const firstSeen = new Map<string, number>();
  const failures: string[] = [];
  let requests = 0;
  let stopping = false;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const req = get(url, { agent, timeout: 5000 }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (c: string) => (body += c));
        res.on("end", () => {
          requests += 1;
          const at = Date.now();
          if (res.statusCode !== 200) failures.push(`HTTP ${res.statusCode}`);
          else {
            const hostname = (JSON.parse(body) as { hostname?: string }).hostname;
            if (hostname && !firstSeen.has(hostname)) firstSeen.set(hostname, at);
          }
          resolve();
        });
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (err) => {
        requests += 1;
        failures.push(err.message);
        resolve();
      });
    });
  const loops = Array.from({ length: inFlight }, async () => {
    while (!stopping) await one();
  });
  return {
    firstSeen,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      agent.destroy();
      return { requests, failures };
    },
  };
}

/**
 * When Docker recorded each container of the project healthy: the time of its first
 * `health_status: healthy` event (Docker's own clock, the host's), from a subscription opened
 * before the scale. (The health log read afterwards is no start event: when traffic comes first,
 * as it did through Envoy's panic mode, the log holds no passing probe yet when it is read.)
 */
async function healthyEvents(ctx: StageContext, project: string) {
  const healthyAt = new Map<string, number>();
  const stream = (await ctx.docker.getEvents({
    filters: { type: ["container"], label: [`${PROJECT_LABEL}=${project}`], event: ["health_status"] },
  })) as unknown as Readable;
  let buffer = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const { events, rest } = parseEventLines(buffer + chunk);
    buffer = rest;
    for (const e of events) {
      const name = e.Actor.Attributes.name;
      if (name && e.Action === "health_status: healthy" && e.timeNano !== undefined && !healthyAt.has(name))
        healthyAt.set(name, e.timeNano / 1e6);
    }
  });
  stream.on("error", () => undefined);
  return { healthyAt, close: () => stream.destroy() };
}

/**
 * The control plane's account of the convergence, on stderr: the Docker events it saw for the new
 * replicas and each snapshot it published after them, with Docker's timestamps of its log lines.
 */
async function controlPlaneTrace(ctx: StageContext, project: string, replicas: readonly string[]): Promise<void> {
  const [cp] = await ctx.docker.listContainers({ filters: { label: [`${PROJECT_LABEL}=${project}`, `${SERVICE_LABEL}=control-plane`] } });
  if (!cp) return;
  const raw = (await ctx.docker.getContainer(cp.Id).logs({ stdout: true, stderr: true, timestamps: true, follow: false })) as unknown;
  const text = Buffer.isBuffer(raw) ? demuxLogs(raw) : String(raw);
  const lines = text.split("\n");
  const first = lines.findIndex((l) => replicas.some((r) => l.includes(r)));
  for (const line of lines.slice(Math.max(0, first))) {
    if (replicas.some((r) => line.includes(r)) || line.includes("snapshot:")) process.stderr.write(`bench: xds: control plane: ${line}\n`);
  }
}

async function until(what: string, timeoutMs: number, probe: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) {
      process.stderr.write(`bench: gave up waiting for ${what}\n`);
      return false;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

async function benchMode(mode: Mode): Promise<DiscoveryFigures> {
  const config = loadConfig({
    cli: {
      projectName: `bench-${mode}-${randomBytes(3).toString("hex")}`,
      discovery: mode,
      scale: { service1: 1, service2: 1 },
      waitTimeoutSeconds: 180,
    },
  });
  const ctx = await stageContext(config);
  try {
    process.stderr.write(`bench: ${mode}: build and deploy ${config.projectName}\n`);
    await build(ctx);
    const { endpoints } = await deploy(ctx);
    const url = `${endpoints.listenerUrl}/service/1`;

    // Convergence on a scale 1 → 3.
    const before = new Set((await runningReplicas(ctx.docker, config.projectName, "service1")).map((r) => r.name));
    const health = await healthyEvents(ctx, config.projectName);
    const load = traffic(url);
    let convergence: DiscoveryFigures["convergence"];
    try {
      await applyScale(ctx, { service1: 3, service2: 1 });
      const added = (await runningReplicas(ctx.docker, config.projectName, "service1")).filter((r) => !before.has(r.name));
      await until(`Docker's healthy and traffic for ${added.map((r) => r.name).join(", ")}`, 60_000, () =>
        added.every((r) => load.firstSeen.has(r.hostname) && health.healthyAt.has(r.name)),
      );
      convergence = added.map((r) => {
        const h = health.healthyAt.get(r.name);
        const t = load.firstSeen.get(r.hostname);
        process.stderr.write(
          `bench: ${mode}: ${r.name} (${r.hostname}): Docker healthy at ${h === undefined ? "?" : new Date(h).toISOString()}, first answer at ${t === undefined ? "?" : new Date(t).toISOString()}\n`,
        );
        return { replica: r.name, seconds: h !== undefined && t !== undefined ? (t - h) / 1000 : null };
      });
    } finally {
      health.close();
      await load.stop();
    }
    if (mode === "xds")
      await controlPlaneTrace(
        ctx,
        config.projectName,
        convergence.map((c) => c.replica),
      );
    await scale(ctx, { service1: 3, service2: 1 });

    // Scale-down 3 → 1 under steady load.
    const steady = traffic(url);
    await until("the load to start", 10_000, () => steady.firstSeen.size > 0);
    await scale(ctx, { service1: 1, service2: 1 });
    const down = await steady.stop();
    return { mode, convergence, scaleDown: { requests: down.requests, failed: down.failures.length, sample: down.failures.slice(0, 3) } };
  } finally {
    await teardown(ctx.docker, config.projectName, { removeImages: true });
  }
}

export async function discoveryBench(modes: readonly Mode[]): Promise<DiscoveryFigures[]> {
  const out: DiscoveryFigures[] = [];
  const fmt = (s: number | null): string => (s === null ? "never" : `${s.toFixed(3)} s`);
  process.stdout.write(`${"mode".padEnd(6)}${"healthy → traffic, per new replica".padEnd(40)}scale-down 3 → 1 under load\n`);
  // Each mode's line as soon as it is measured (a later mode's failure keeps the earlier figures).
  for (const mode of modes) {
    const f = await benchMode(mode);
    out.push(f);
    const conv = f.convergence.map((c) => fmt(c.seconds)).join(", ");
    process.stdout.write(
      `${f.mode.padEnd(6)}${conv.padEnd(40)}${f.scaleDown.failed} failed of ${f.scaleDown.requests}${f.scaleDown.sample.length ? ` (${f.scaleDown.sample.join("; ")})` : ""}\n`,
    );
  }
  return out;
}
