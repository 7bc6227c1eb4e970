// Endpoints from Docker events: the compose project's replicas as the control plane serves them
// over EDS, with no DNS polling. Events and health states: docs/xds.md.
import type Dockerode from "dockerode";
import type { Readable } from "node:stream";
import { z } from "zod";
import { formatIssues } from "../lib/errors.ts";
import { containerName, inspectContainer, PROJECT_LABEL, projectIp, SERVICE_LABEL, type ContainerInspect } from "../stack/discover.ts";
import type { EndpointSource } from "./control-plane.ts";
import type { Endpoint, EndpointHealth } from "./resources.ts";
import { weightOf } from "./weights.ts";

const EVENTS = ["start", "die", "pause", "unpause", "health_status", "kill", "stop", "destroy"] as const;

const eventSchema = z.object({
  Type: z.literal("container"),
  Action: z.string(),
  Actor: z.object({ ID: z.string(), Attributes: z.record(z.string(), z.string()).default({}) }),
  timeNano: z.number().optional(),
});
export type ContainerEvent = z.infer<typeof eventSchema>;

interface Replica {
  id: string;
  name: string;
  service: string;
  ip: string;
  running: boolean;
  paused: boolean;
  /** Docker health status; undefined when the image defines no health check. */
  health: string | undefined;
}

export interface DockerEndpointsOptions {
  project: string;
  /** Compose services whose containers are endpoints (each one is the cluster of the same name). */
  services: readonly string[];
  /** Port the replicas listen on. */
  port: number;
  /** Weight per replica (container name or compose service name); 1 when absent. */
  weights?: Readonly<Record<string, number>>;
  log?: (line: string) => void;
}

export function endpointHealth(r: { running: boolean; paused: boolean; health: string | undefined }, draining: boolean): EndpointHealth {
  if (draining) return "DRAINING";
  if (!r.running || r.paused) return "UNHEALTHY";
  return r.health === undefined || r.health === "healthy" ? "HEALTHY" : "UNHEALTHY";
}

/** Splits a stream of newline-separated JSON objects (Docker's event stream) into parsed events. */
export function parseEventLines(buffer: string): { events: ContainerEvent[]; rest: string; errors: string[] } {
  const lines = buffer.split("\n");
  const rest = lines.pop() ?? "";
  const events: ContainerEvent[] = [];
  const errors: string[] = [];
  for (const line of lines) {
    if (line.trim() === "") continue;
    let data: unknown;
    try {
      data = JSON.parse(line);
    } catch {
      errors.push(`not JSON: ${line.slice(0, 80)}`);
      continue;
    }
    const parsed = eventSchema.safeParse(data);
    if (parsed.success) events.push(parsed.data);
    else errors.push(`unexpected event: ${formatIssues(parsed.error)}`);
  }
  return { events, rest, errors };
}

export class DockerEndpoints implements EndpointSource {
  private readonly replicas = new Map<string, Replica>();
  private readonly draining = new Set<string>();
  private stream: Readable | undefined;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private onChange: () => void = () => {};
  private readonly log: (line: string) => void;

  constructor(
    private readonly docker: Dockerode,
    private readonly opts: DockerEndpointsOptions,
  ) {
    this.log = opts.log ?? (() => {});
  }

  async start(onChange: () => void): Promise<void> {
    this.onChange = onChange;
    const stream = (await this.docker.getEvents({
      filters: { type: ["container"], label: [`${PROJECT_LABEL}=${this.opts.project}`], event: [...EVENTS] },
    })) as unknown as Readable;
    this.stream = stream;
    let buffer = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const { events, rest, errors } = parseEventLines(buffer + chunk);
      buffer = rest;
      for (const e of errors) this.log(`docker events: ${e}`);
      for (const event of events) this.enqueue(() => this.apply(event));
    });
    stream.on("error", (err) => this.log(`docker events: ${err.message}`));
    stream.on("end", () => {
      if (!this.closed) this.log("docker events: the stream ended; endpoints are no longer updated");
    });
    const list = await this.docker.listContainers({ all: true, filters: { label: [`${PROJECT_LABEL}=${this.opts.project}`] } });
    for (const c of list) {
      const service = c.Labels[SERVICE_LABEL];
      if (service && this.opts.services.includes(service)) this.enqueue(() => this.refresh(c.Id));
    }
    await this.queue;
  }

  private enqueue(work: () => Promise<void>): void {
    this.queue = this.queue.then(work).catch((err: Error) => this.log(`docker: ${err.message}`));
  }

  private async apply(event: ContainerEvent): Promise<void> {
    const service = event.Actor.Attributes[SERVICE_LABEL];
    if (!service || !this.opts.services.includes(service)) return;
    const id = event.Actor.ID;
    const action = event.Action.split(":")[0] ?? event.Action;
    const signal = event.Actor.Attributes.signal;
    this.log(`docker: ${event.Actor.Attributes.name ?? id.slice(0, 12)} ${event.Action}${signal ? ` (signal ${signal})` : ""}`);
    if (action === "kill" && this.replicas.has(id)) {
      this.draining.add(id);
      this.onChange();
    }
    if (action === "destroy") {
      this.forget(id);
      return;
    }
    // A health change of a known replica says all there is to know: no inspection (saves a round
    // trip to the engine on the path from "healthy" to traffic).
    const known = this.replicas.get(id);
    const health = /^health_status: (\w+)$/.exec(event.Action)?.[1];
    if (known && health !== undefined) {
      this.replicas.set(id, { ...known, health });
      this.onChange();
      return;
    }
    await this.refresh(id);
  }

  private forget(id: string): void {
    this.draining.delete(id);
    if (this.replicas.delete(id)) this.onChange();
  }

  private async refresh(id: string): Promise<void> {
    let c: ContainerInspect;
    try {
      c = await inspectContainer(this.docker, id);
    } catch {
      // Gone between the event and the inspection.
      this.forget(id);
      return;
    }
    const service = c.Config.Labels[SERVICE_LABEL] ?? "";
    const ip = projectIp(c, this.opts.project);
    if (!c.State.Running || ip === null) {
      this.forget(id);
      return;
    }
    const replica: Replica = {
      id,
      name: containerName(c),
      service,
      ip,
      running: c.State.Running,
      paused: c.State.Paused === true,
      health: c.State.Health?.Status,
    };
    this.replicas.set(id, replica);
    this.onChange();
  }

  endpoints(): ReadonlyMap<string, readonly Endpoint[]> {
    const out = new Map<string, Endpoint[]>(this.opts.services.map((s) => [s, []]));
    for (const r of this.replicas.values()) {
      const weight = weightOf(this.opts.weights ?? {}, r);
      out.get(r.service)?.push({
        address: r.ip,
        port: this.opts.port,
        health: endpointHealth(r, this.draining.has(r.id)),
        hostname: r.name,
        ...(weight !== undefined ? { weight } : {}),
      });
    }
    return out;
  }

  drain(names: readonly string[]): string[] {
    const found: string[] = [];
    for (const r of this.replicas.values()) {
      if (names.includes(r.name) || names.includes(r.id) || names.some((n) => n.length >= 12 && r.id.startsWith(n))) {
        this.draining.add(r.id);
        found.push(r.name);
      }
    }
    return found;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stream?.destroy();
    await this.queue;
  }
}
