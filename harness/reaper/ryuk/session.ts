// The listener, its clients and the one prune timer: Ryuk's timing as a small state machine.
import { createServer, type Server, type Socket } from "node:net";
import type { ReaperConfig } from "./config.ts";
import type { DockerApi } from "./docker.ts";
import { type DockerFilters, type Log, parseFilterLine } from "./protocol.ts";
import { affected, noResources, prune, type Resources } from "./prune.ts";

export interface ReaperResult {
  removed: Resources;
  left: number;
}

export class ReaperSession {
  readonly #config: ReaperConfig;
  readonly #api: DockerApi;
  readonly #log: Log;
  readonly #server: Server;
  readonly #filters = new Map<string, DockerFilters>();
  readonly #sockets = new Set<Socket>();
  #clients = 0;
  #timer: NodeJS.Timeout | undefined;
  #shutdownDeadline = Number.POSITIVE_INFINITY;
  #pruning = false;
  #finish: (r: ReaperResult) => void = () => undefined;
  /** Resolves when it has pruned (and closed everything). */
  readonly done: Promise<ReaperResult>;

  constructor(config: ReaperConfig, api: DockerApi, log: Log) {
    this.#config = config;
    this.#api = api;
    this.#log = log;
    this.#server = createServer((socket) => this.#accept(socket));
    const done = new Promise<ReaperResult>((r) => (this.#finish = r));
    this.done = done.finally(() => {
      clearTimeout(this.#timer);
      this.#closeListener();
      for (const s of this.#sockets) s.destroy();
    });
  }

  /** Listens; resolves with the address bound. */
  async listen(port: number, host: string | undefined): Promise<ReturnType<Server["address"]>> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => resolve());
    });
    return this.#server.address();
  }

  /** (Re)arms the prune check `ms` from now. */
  schedule(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#pruneCheck(), Math.max(0, ms));
  }

  /** As SIGTERM: stop accepting clients; prune now if none is connected, else after the shutdown timeout. */
  shutdown(): void {
    if (Number.isFinite(this.#shutdownDeadline)) return;
    this.#log("INFO", "signal received", { clients: this.#clients, shutdown_timeout: `${this.#config.shutdownTimeoutMs}ms` });
    this.#closeListener();
    this.#shutdownDeadline = Date.now() + this.#config.shutdownTimeoutMs;
    this.schedule(this.#clients === 0 ? 0 : this.#config.shutdownTimeoutMs);
  }

  #accept(socket: Socket): void {
    const address = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    if (this.#pruning) {
      // A client arriving once pruning started gets no ACK: Testcontainers then starts a new reaper.
      this.#log("WARN", "shutdown, aborting client", { address });
      socket.destroy();
      return;
    }
    this.#clients++;
    this.#sockets.add(socket);
    this.#log("INFO", "client connected", { address, clients: this.#clients });
    if (this.#clients === 1) clearTimeout(this.#timer);
    let buffered = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl).replace(/\r$/, "");
        buffered = buffered.slice(nl + 1);
        this.#line(socket, address, line);
      }
    });
    // A killed client's socket is closed by its kernel: 'close' (maybe after 'error') fires.
    socket.on("error", (err) => this.#log("DEBUG", "client error", { address, error: err.message }));
    socket.on("close", () => {
      this.#sockets.delete(socket);
      this.#clients--;
      this.#log("INFO", "client disconnected", { address, clients: this.#clients });
      if (this.#clients === 0 && !this.#pruning)
        this.schedule(Number.isFinite(this.#shutdownDeadline) ? 0 : this.#config.reconnectionTimeoutMs);
    });
  }

  /** One filter line: kept once per canonical form and ACKed, even when it does not parse. */
  #line(socket: Socket, address: string, line: string): void {
    if (line === "") {
      this.#log("WARN", "empty filter received", { address });
      return;
    }
    const parsed = parseFilterLine(line);
    if (parsed === null) this.#log("ERROR", "add filter", { address, error: `no filter in '${line}'` });
    else if (!this.#filters.has(parsed.key)) {
      this.#filters.set(parsed.key, parsed.filters);
      for (const [type, values] of Object.entries(parsed.filters))
        this.#log("INFO", "adding filter", { type, values: `[${Object.keys(values).join(" ")}]` });
    }
    socket.write("ACK\n");
  }

  #closeListener(): void {
    if (this.#server.listening) this.#server.close();
  }

  async #pruneCheck(): Promise<void> {
    const now = Date.now();
    this.#log(this.#clients > 0 ? "WARN" : "INFO", "prune check", { clients: this.#clients });
    this.#pruning = true;
    try {
      const { resources, changed } = await affected(this.#api, [...this.#filters.values()], now + this.#config.retryOffsetMs);
      if (changed.length > 0 && now < this.#shutdownDeadline) {
        this.#log("WARN", "change detected, waiting again", { error: changed.join(", ") });
        this.#pruning = false;
        this.schedule(this.#config.changesRetryIntervalMs);
        return;
      }
      this.#closeListener();
      const left = await prune(this.#api, this.#log, this.#config.removeRetries, resources);
      this.#finish({ removed: resources, left });
    } catch (err) {
      this.#log("ERROR", "prune check", { error: (err as Error).message });
      this.#closeListener();
      this.#finish({ removed: noResources(), left: -1 });
    }
  }
}
