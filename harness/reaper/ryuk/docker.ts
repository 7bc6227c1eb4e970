// The Docker Engine API over its socket (DOCKER_HOST unix:// or tcp:// honoured), unversioned
// paths so any engine from 20.10 on answers; node:http only, as the image has no node_modules.
import { request } from "node:http";
import type { DockerFilters } from "./protocol.ts";

interface DockerAnswer {
  status: number;
  body: unknown;
}

function dockerTarget(env: NodeJS.ProcessEnv): { socketPath: string } | { host: string; port: number } {
  const host = env.DOCKER_HOST ?? "";
  if (host.startsWith("tcp://")) {
    const u = new URL(host.replace(/^tcp:/, "http:"));
    return { host: u.hostname, port: Number(u.port || 2375) };
  }
  return { socketPath: host.startsWith("unix://") ? host.slice("unix://".length) : "/var/run/docker.sock" };
}

export function errorText(body: unknown): string {
  if (typeof body === "object" && body !== null && "message" in body) return String((body as { message: unknown }).message);
  return String(body);
}

export const field = (o: unknown, name: string): unknown =>
  typeof o === "object" && o !== null ? (o as Record<string, unknown>)[name] : undefined;
export const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export class DockerApi {
  readonly #target: { socketPath: string } | { host: string; port: number };
  readonly #timeoutMs: number;
  constructor(timeoutMs: number, env: NodeJS.ProcessEnv = process.env) {
    this.#target = dockerTarget(env);
    this.#timeoutMs = timeoutMs;
  }

  call(method: string, path: string): Promise<DockerAnswer> {
    return new Promise((resolve, reject) => {
      const req = request({ ...this.#target, method, path, timeout: this.#timeoutMs, headers: { Host: "docker" } }, (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (c: string) => (text += c));
        res.on("end", () => {
          let body: unknown = text;
          try {
            body = text === "" ? null : JSON.parse(text);
          } catch {
            // plain text answer
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer within ${this.#timeoutMs} ms`)));
      req.on("error", reject);
      req.end();
    });
  }

  async list(path: string, filters: DockerFilters, extra = ""): Promise<unknown> {
    const r = await this.call("GET", `${path}?filters=${encodeURIComponent(JSON.stringify(filters))}${extra}`);
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${errorText(r.body)}`);
    return r.body;
  }
}

/**
 * A swarm-only list (services, configs): its items, or null when the engine is not a swarm
 * manager (503 "This node is not a swarm manager"), which is not an error for a reaper.
 */
export async function swarmList(api: DockerApi, path: "/services" | "/configs", filters: DockerFilters): Promise<unknown[] | null> {
  const r = await api.call("GET", `${path}?filters=${encodeURIComponent(JSON.stringify(filters))}`);
  if (r.status === 503) return null;
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${errorText(r.body)}`);
  return asArray(r.body);
}
