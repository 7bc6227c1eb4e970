// The reaper: our equivalent of testcontainers/ryuk (moby-ryuk 0.14), for hosts where that image
// cannot be pulled. It runs in a container (images/ryuk: the Node.js base image plus this one file,
// run by Node's built-in type stripping, so it imports nothing but node:*) and is started by
// Testcontainers itself: RYUK_CONTAINER_IMAGE names it (useReaper, harness/reaper/session.ts).
//
// Design (the protocol and timing are moby-ryuk's, so any Testcontainers client can use it):
//   - TCP on RYUK_PORT (8080). A client sends filter lines, `\n`-terminated (`\r\n` accepted), each
//     a URL query of Docker filters: `label=org.testcontainers.session-id=<id>` or
//     `label=a=b&label=c`. Every line is answered `ACK\n`, even one that does not parse (logged),
//     as Ryuk does. Filters are kept per canonical form (same filter twice = once).
//   - Timing: no client within RYUK_CONNECTION_TIMEOUT (60s) -> prune check. A client connects ->
//     the check is off while any client is connected. The last one disconnects (a clean close or
//     the kernel closing the socket of a killed process: that is the point) -> prune check after
//     RYUK_RECONNECTION_TIMEOUT (10s); a reconnection before then cancels it. SIGTERM/SIGINT ->
//     listener closed; prune check now if no client, else after RYUK_SHUTDOWN_TIMEOUT (10m).
//   - Prune check: for each filter, list services and configs (swarm managers only), containers
//     (all, skipping reaper containers labelled org.testcontainers.ryuk=true), networks, volumes,
//     images. Anything created after the check
//     started (+ RYUK_RETRY_OFFSET, -1s) means the client's work is still landing: wait
//     RYUK_CHANGES_RETRY_INTERVAL (1s) and check again (until the shutdown deadline, if any).
//   - Swarm (our addition to Ryuk): on an engine that is a swarm manager, the filters also match
//     swarm services and configs (a `docker stack deploy` labels all of them, and its task
//     containers, com.docker.stack.namespace=<stack>). An engine that is not a manager answers
//     `GET /services` with 503 "This node is not a swarm manager": then services and configs are
//     skipped silently and the prune is Ryuk's, exactly (the compose target's case).
//   - Prune: services first (a service would reschedule the task containers removed after it),
//     then containers (force, with their anonymous volumes), networks, volumes (force), configs
//     (after the services that mount them), images (children pruned, not forced: an image
//     another container uses stays). 404 counts as removed; other failures retry
//     RYUK_REMOVE_RETRIES times a second apart (a stack's network is refused while its tasks are
//     still stopping). Then the process exits (0, or 1 when something was left), and the
//     container goes (AutoRemove).
//   - Logs: slog-style `time=... level=INFO msg=...` lines on stdout; the `Started` line is what
//     Testcontainers waits for (Wait.forLogMessage(/.*Started.*/)).
// Docker is reached over its HTTP API on the socket mounted at /var/run/docker.sock (DOCKER_HOST
// unix:// or tcp:// honoured), unversioned paths, so any engine from 20.10 on answers.
import { request } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { fileURLToPath } from "node:url";

export interface ReaperConfig {
  connectionTimeoutMs: number;
  reconnectionTimeoutMs: number;
  requestTimeoutMs: number;
  removeRetries: number;
  retryOffsetMs: number;
  changesRetryIntervalMs: number;
  shutdownTimeoutMs: number;
  port: number;
  verbose: boolean;
}

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration ("10s", "1m30s", "500ms", "-1s", "0") in milliseconds; NaN when invalid. */
export function parseGoDuration(text: string): number {
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(text.trim());
  if (text.trim() === "0") return 0;
  if (!m) return Number.NaN;
  let total = 0;
  for (const part of text
    .trim()
    .replace(/^[-+]/, "")
    .matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(part[1]) * (UNITS[part[2] ?? "s"] ?? Number.NaN);
  }
  return m[1] === "-" ? -total : total;
}

/** The configuration from RYUK_* variables, with moby-ryuk's defaults. Throws naming a bad variable. */
export function reaperConfig(env: NodeJS.ProcessEnv = process.env): ReaperConfig {
  const duration = (name: string, fallback: string): number => {
    const raw = env[name] ?? fallback;
    const ms = parseGoDuration(raw === "" ? fallback : raw);
    if (Number.isNaN(ms)) throw new Error(`${name}: '${raw}' is not a duration (like 10s, 1m30s, 500ms)`);
    return ms;
  };
  const integer = (name: string, fallback: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) > max) throw new Error(`${name}: '${raw}' is not a whole number up to ${max}`);
    return Number(raw);
  };
  return {
    connectionTimeoutMs: duration("RYUK_CONNECTION_TIMEOUT", "60s"),
    reconnectionTimeoutMs: duration("RYUK_RECONNECTION_TIMEOUT", "10s"),
    requestTimeoutMs: duration("RYUK_REQUEST_TIMEOUT", "10s"),
    removeRetries: integer("RYUK_REMOVE_RETRIES", 10, 1000),
    retryOffsetMs: duration("RYUK_RETRY_OFFSET", "-1s"),
    changesRetryIntervalMs: duration("RYUK_CHANGES_RETRY_INTERVAL", "1s"),
    shutdownTimeoutMs: duration("RYUK_SHUTDOWN_TIMEOUT", "10m"),
    port: integer("RYUK_PORT", 8080, 65535),
    verbose: /^(1|t|true)$/i.test(env.RYUK_VERBOSE ?? ""),
  };
}

/** Docker filters as the API takes them: `{"label": {"a=b": true}}`. */
export type DockerFilters = Record<string, Record<string, true>>;

/**
 * One filter line (a URL query) as Docker filters, and its canonical key (sorted, so the same
 * filter in another order is the same filter). Null for a line that gives no filter.
 */
export function parseFilterLine(line: string): { key: string; filters: DockerFilters } | null {
  const params = new URLSearchParams(line);
  const filters: DockerFilters = {};
  for (const [type, value] of params) {
    if (type === "") continue;
    const values = filters[type] ?? {};
    values[value] = true;
    filters[type] = values;
  }
  const types = Object.keys(filters).sort();
  if (types.length === 0) return null;
  const key = JSON.stringify(types.map((t) => [t, Object.keys(filters[t] ?? {}).sort()]));
  return { key, filters };
}

// ---------------------------------------------------------------------------------------------
// Docker Engine API

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

const field = (o: unknown, name: string): unknown =>
  typeof o === "object" && o !== null ? (o as Record<string, unknown>)[name] : undefined;
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function errorText(body: unknown): string {
  if (typeof body === "object" && body !== null && "message" in body) return String((body as { message: unknown }).message);
  return String(body);
}

const RYUK_LABEL = "org.testcontainers.ryuk";

/** What a prune would remove (ids; volume names), in the order it removes them. */
export interface Resources {
  services: string[];
  containers: string[];
  networks: string[];
  volumes: string[];
  configs: string[];
  images: string[];
}

/** Nothing: what a prune starts from. */
export const noResources = (): Resources => ({ services: [], containers: [], networks: [], volumes: [], configs: [], images: [] });

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

/** Docker's Created: unix seconds (containers, images) or an RFC 3339 string (networks, volumes). */
const createdMs = (v: unknown): number => (typeof v === "number" ? v * 1000 : typeof v === "string" ? Date.parse(v) : Number.NaN);

/**
 * What the filters match, and how many matches were created after `sinceMs` (work still landing:
 * the caller waits and looks again rather than removing half of it).
 */
export async function affected(
  api: DockerApi,
  filterSets: DockerFilters[],
  sinceMs: number,
): Promise<{ resources: Resources; changed: string[] }> {
  const resources = noResources();
  const changed: string[] = [];
  const take = (kind: keyof Resources, id: unknown, created: unknown, landing = true): void => {
    if (typeof id !== "string" || resources[kind].includes(id)) return;
    if (landing && createdMs(created) > sinceMs) changed.push(`${kind.slice(0, -1)} ${id.slice(0, 12)}`);
    else resources[kind].push(id);
  };
  const services = new Set<unknown>();
  for (const filters of filterSets) {
    // Services and configs carry CreatedAt (RFC 3339); null: not a swarm manager, nothing to add.
    for (const s of (await swarmList(api, "/services", filters)) ?? []) {
      services.add(field(s, "ID"));
      take("services", field(s, "ID"), field(s, "CreatedAt"));
    }
    for (const c of (await swarmList(api, "/configs", filters)) ?? []) take("configs", field(c, "ID"), field(c, "CreatedAt"));
    for (const c of asArray(await api.list("/containers/json", filters, "&all=true"))) {
      const labels = field(c, "Labels");
      if (field(labels, RYUK_LABEL) === "true") continue;
      // A task container of a matched service is swarm's work, not the client's: a task that
      // restarts (a failing health check) would otherwise put the prune off for ever.
      const ofService = services.has(field(labels, "com.docker.swarm.service.id"));
      take("containers", field(c, "Id"), field(c, "Created"), !ofService);
    }
    for (const n of asArray(await api.list("/networks", filters))) take("networks", field(n, "Id"), field(n, "Created"));
    for (const v of asArray(field(await api.list("/volumes", filters), "Volumes")))
      take("volumes", field(v, "Name"), field(v, "CreatedAt"));
    for (const i of asArray(await api.list("/images/json", filters))) take("images", field(i, "Id"), field(i, "Created"));
  }
  return { resources, changed };
}

// ---------------------------------------------------------------------------------------------
// The reaper

type Log = (level: "DEBUG" | "INFO" | "WARN" | "ERROR", msg: string, attrs?: Record<string, unknown>) => void;

/** slog's text format, so a person used to Ryuk's log reads ours the same way. */
export function slogLine(level: string, msg: string, attrs: Record<string, unknown> = {}): string {
  const quote = (v: unknown): string => {
    const s = typeof v === "string" ? v : JSON.stringify(v);
    return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
  };
  const parts = [`time=${new Date().toISOString()}`, `level=${level}`, `msg=${quote(msg)}`];
  for (const [k, v] of Object.entries(attrs)) parts.push(`${k}=${quote(v)}`);
  return parts.join(" ");
}

export interface Reaper {
  /** The port it listens on (useful with port 0). */
  port: number;
  /** Resolves when it has pruned (and closed), with what it removed and what it could not. */
  done: Promise<{ removed: Resources; left: number }>;
  /** As SIGTERM: stop accepting clients; prune now if none is connected, else after the shutdown timeout. */
  shutdown(): void;
}

export async function startReaper(config: ReaperConfig, opts: { api?: DockerApi; log?: Log; host?: string } = {}): Promise<Reaper> {
  const api = opts.api ?? new DockerApi(config.requestTimeoutMs);
  const log: Log =
    opts.log ??
    ((level, msg, attrs) => {
      if (level !== "DEBUG" || config.verbose) process.stdout.write(`${slogLine(level, msg, attrs)}\n`);
    });
  const ping = await api.call("GET", "/_ping");
  if (ping.status !== 200) throw new Error(`ping: Docker answered ${ping.status} ${errorText(ping.body)}`);
  log("INFO", "starting", {
    connection_timeout: `${config.connectionTimeoutMs}ms`,
    reconnection_timeout: `${config.reconnectionTimeoutMs}ms`,
    request_timeout: `${config.requestTimeoutMs}ms`,
    shutdown_timeout: `${config.shutdownTimeoutMs}ms`,
    remove_retries: config.removeRetries,
    retry_offset: `${config.retryOffsetMs}ms`,
    changes_retry_interval: `${config.changesRetryIntervalMs}ms`,
    port: config.port,
    verbose: config.verbose,
  });

  const filters = new Map<string, DockerFilters>();
  const sockets = new Set<Socket>();
  let clients = 0;
  let timer: NodeJS.Timeout | undefined;
  let shutdownDeadline = Number.POSITIVE_INFINITY;
  let pruning = false;
  let finish: (r: { removed: Resources; left: number }) => void = () => undefined;
  const done = new Promise<{ removed: Resources; left: number }>((r) => (finish = r));

  const schedule = (ms: number): void => {
    clearTimeout(timer);
    timer = setTimeout(() => void pruneCheck(), Math.max(0, ms));
  };

  const server: Server = createServer((socket) => {
    const address = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    if (pruning) {
      // A client arriving once pruning started gets no ACK: Testcontainers then starts a new reaper.
      log("WARN", "shutdown, aborting client", { address });
      socket.destroy();
      return;
    }
    clients++;
    sockets.add(socket);
    log("INFO", "client connected", { address, clients });
    if (clients === 1) clearTimeout(timer);
    let buffered = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl).replace(/\r$/, "");
        buffered = buffered.slice(nl + 1);
        if (line === "") {
          log("WARN", "empty filter received", { address });
          continue;
        }
        const parsed = parseFilterLine(line);
        if (parsed === null) log("ERROR", "add filter", { address, error: `no filter in '${line}'` });
        else if (!filters.has(parsed.key)) {
          filters.set(parsed.key, parsed.filters);
          for (const [type, values] of Object.entries(parsed.filters))
            log("INFO", "adding filter", { type, values: `[${Object.keys(values).join(" ")}]` });
        }
        socket.write("ACK\n");
      }
    });
    // A killed client's socket is closed by its kernel: 'close' (maybe after 'error') fires.
    socket.on("error", (err) => log("DEBUG", "client error", { address, error: err.message }));
    socket.on("close", () => {
      sockets.delete(socket);
      clients--;
      log("INFO", "client disconnected", { address, clients });
      if (clients === 0 && !pruning) schedule(Number.isFinite(shutdownDeadline) ? 0 : config.reconnectionTimeoutMs);
    });
  });

  const closeListener = (): void => {
    if (server.listening) server.close();
  };

  async function pruneCheck(): Promise<void> {
    const now = Date.now();
    log(clients > 0 ? "WARN" : "INFO", "prune check", { clients });
    pruning = true;
    try {
      const { resources, changed } = await affected(api, [...filters.values()], now + config.retryOffsetMs);
      if (changed.length > 0 && now < shutdownDeadline) {
        log("WARN", "change detected, waiting again", { error: changed.join(", ") });
        pruning = false;
        schedule(config.changesRetryIntervalMs);
        return;
      }
      closeListener();
      const left = await prune(resources);
      finish({ removed: resources, left });
    } catch (err) {
      log("ERROR", "prune check", { error: (err as Error).message });
      closeListener();
      finish({ removed: noResources(), left: -1 });
    }
  }

  async function remove(kind: string, ids: string[], path: (id: string) => string): Promise<number> {
    let todo = [...ids];
    for (let attempt = 1; attempt <= config.removeRetries && todo.length > 0; attempt++) {
      const failed: string[] = [];
      for (const id of todo) {
        try {
          const r = await api.call("DELETE", path(id));
          if (r.status >= 300 && r.status !== 404) throw new Error(`${r.status} ${errorText(r.body)}`);
        } catch (err) {
          log("ERROR", "remove", { resource: kind, id, attempt, error: (err as Error).message });
          failed.push(id);
        }
      }
      todo = failed;
      if (todo.length > 0 && attempt < config.removeRetries) await new Promise((r) => setTimeout(r, 1000));
    }
    return todo.length;
  }

  async function prune(r: Resources): Promise<number> {
    let left = 0;
    left += await remove("service", r.services, (id) => `/services/${id}`);
    left += await remove("container", r.containers, (id) => `/containers/${id}?force=true&v=true`);
    left += await remove("network", r.networks, (id) => `/networks/${id}`);
    left += await remove("volume", r.volumes, (id) => `/volumes/${encodeURIComponent(id)}?force=true`);
    left += await remove("config", r.configs, (id) => `/configs/${id}`);
    left += await remove("image", r.images, (id) => `/images/${id}?noprune=false`);
    log(left > 0 ? "WARN" : "INFO", "removed", {
      ...(r.services.length + r.configs.length > 0 ? { services: r.services.length, configs: r.configs.length } : {}),
      containers: r.containers.length,
      networks: r.networks.length,
      volumes: r.volumes.length,
      images: r.images.length,
      ...(left > 0 ? { left } : {}),
    });
    return left;
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, opts.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : config.port;
  // Testcontainers waits for this line (Wait.forLogMessage(/.*Started.*/)): keep the word.
  log("INFO", "Started", { address: typeof addr === "object" && addr !== null ? `[${addr.address}]:${addr.port}` : String(addr) });
  schedule(config.connectionTimeoutMs);

  return {
    port,
    done: done.finally(() => {
      clearTimeout(timer);
      closeListener();
      for (const s of sockets) s.destroy();
    }),
    shutdown(): void {
      if (Number.isFinite(shutdownDeadline)) return;
      log("INFO", "signal received", { clients, shutdown_timeout: `${config.shutdownTimeoutMs}ms` });
      closeListener();
      shutdownDeadline = Date.now() + config.shutdownTimeoutMs;
      schedule(clients === 0 ? 0 : config.shutdownTimeoutMs);
    },
  };
}

async function main(): Promise<void> {
  let config: ReaperConfig;
  try {
    config = reaperConfig();
  } catch (err) {
    process.stdout.write(`${slogLine("ERROR", "load config", { error: (err as Error).message })}\n`);
    process.exit(2);
  }
  const reaper = await startReaper(config);
  process.on("SIGTERM", () => reaper.shutdown());
  process.on("SIGINT", () => reaper.shutdown());
  const result = await reaper.done;
  process.stdout.write(`${slogLine("INFO", "done")}\n`);
  process.exit(result.left === 0 ? 0 : 1);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stdout.write(`${slogLine("ERROR", "run", { error: (err as Error).message })}\n`);
    process.exit(1);
  });
}
