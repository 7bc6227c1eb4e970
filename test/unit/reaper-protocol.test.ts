// The reaper's protocol and timing (harness/reaper/ryuk/) against a recording Docker API: what
// it ACKs, which filters it keeps, when it prunes and what it removes. The same code against the
// real engine, and inside its container started by Testcontainers: test/integration/reaper.test.ts.
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { describe, it } from "vitest";
import {
  DockerApi,
  parseFilterLine,
  parseGoDuration,
  reaperConfig,
  slogLine,
  startReaper,
  type ReaperConfig,
} from "../../harness/reaper/ryuk/index.ts";

/** A Docker API that answers lists from a table and records removals. */
class RecordingDocker extends DockerApi {
  removed: string[] = [];
  listed: string[] = [];
  constructor(private readonly containers: Array<{ Id: string; Created: number; Labels: Record<string, string> }>) {
    super(1000, {});
  }
  override async call(method: string, path: string): Promise<{ status: number; body: unknown }> {
    if (method === "GET" && path === "/_ping") return { status: 200, body: "OK" };
    if (method === "DELETE") {
      this.removed.push(path.split("?")[0] ?? path);
      return { status: 204, body: null };
    }
    // As an engine that is not a swarm manager answers the swarm-only lists.
    if (method === "GET" && /^\/(services|configs)\?/.test(path))
      return { status: 503, body: { message: "This node is not a swarm manager." } };
    return { status: 404, body: { message: "no such path" } };
  }
  override async list(path: string, filters: Record<string, Record<string, true>>): Promise<unknown> {
    this.listed.push(`${path} ${JSON.stringify(filters)}`);
    const wanted = Object.keys(filters.label ?? {});
    const match = (labels: Record<string, string>): boolean =>
      wanted.every((w) => {
        const [k, v] = w.split("=", 2) as [string, string | undefined];
        return v === undefined ? k in labels : labels[k] === v;
      });
    if (path === "/containers/json") return this.containers.filter((c) => match(c.Labels));
    if (path === "/volumes") return { Volumes: [] };
    return [];
  }
}

const fast: ReaperConfig = {
  ...reaperConfig({}),
  port: 0,
  connectionTimeoutMs: 60_000,
  reconnectionTimeoutMs: 50,
  changesRetryIntervalMs: 20,
  removeRetries: 2,
};
const quiet = (): void => undefined;

/** Connects, sends `text`, resolves with the socket once `acks` ACK lines came back. */
function client(port: number, text: string, acks: number): Promise<{ socket: Socket; answer: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    let answer = "";
    socket.setEncoding("utf8").on("data", (d: string) => {
      answer += d;
      if (answer.split("ACK\n").length - 1 >= acks) resolve({ socket, answer });
    });
    socket.on("error", reject);
  });
}

describe("reaper protocol (moby-ryuk 0.14)", () => {
  it("reads Go durations and RYUK_* variables with Ryuk's defaults, and names a bad one", () => {
    assert.equal(parseGoDuration("10s"), 10_000);
    assert.equal(parseGoDuration("1m30s"), 90_000);
    assert.equal(parseGoDuration("500ms"), 500);
    assert.equal(parseGoDuration("-1s"), -1000);
    assert.equal(parseGoDuration("0"), 0);
    assert.ok(Number.isNaN(parseGoDuration("10")));
    assert.ok(Number.isNaN(parseGoDuration("soon")));
    const d = reaperConfig({});
    assert.deepEqual(
      [
        d.connectionTimeoutMs,
        d.reconnectionTimeoutMs,
        d.requestTimeoutMs,
        d.removeRetries,
        d.retryOffsetMs,
        d.changesRetryIntervalMs,
        d.shutdownTimeoutMs,
        d.port,
      ],
      [60_000, 10_000, 10_000, 10, -1000, 1000, 600_000, 8080],
    );
    assert.equal(reaperConfig({ RYUK_RECONNECTION_TIMEOUT: "2s", RYUK_PORT: "9000" }).reconnectionTimeoutMs, 2000);
    assert.throws(() => reaperConfig({ RYUK_RECONNECTION_TIMEOUT: "2" }), /RYUK_RECONNECTION_TIMEOUT: '2' is not a duration/);
    assert.throws(() => reaperConfig({ RYUK_PORT: "70000" }), /RYUK_PORT/);
  });

  it("parses filter lines as URL queries; order does not make a new filter", () => {
    const a = parseFilterLine("label=a=b&label=c");
    const b = parseFilterLine("label=c&label=a=b");
    assert.deepEqual(a?.filters, { label: { "a=b": true, c: true } });
    assert.equal(a?.key, b?.key);
    assert.notEqual(parseFilterLine("label=a=b")?.key, a?.key);
    assert.equal(parseFilterLine("&&"), null);
  });

  it("logs the 'Started' line Testcontainers waits for, in slog's format", () => {
    assert.match(slogLine("INFO", "Started", { address: "[::]:8080" }), /^time=\S+ level=INFO msg=Started address=\[::\]:8080$/);
    assert.match(slogLine("INFO", "client connected", { clients: 1 }), /msg="client connected" clients=1$/);
  });

  it("ACKs every line (LF or CRLF, even a bad one), and after the last client leaves removes what matches, never a reaper", async () => {
    const docker = new RecordingDocker([
      { Id: "mine1", Created: 1, Labels: { "org.testcontainers.session-id": "s1" } },
      { Id: "project1", Created: 1, Labels: { "com.docker.compose.project": "p1" } },
      { Id: "theirs", Created: 1, Labels: { "com.docker.compose.project": "other" } },
      { Id: "reaper", Created: 1, Labels: { "org.testcontainers.session-id": "s1", "org.testcontainers.ryuk": "true" } },
    ]);
    const reaper = await startReaper(fast, { api: docker, log: quiet, host: "127.0.0.1" });
    const { socket, answer } = await client(
      reaper.port,
      "label=org.testcontainers.session-id=s1\r\nlabel=com.docker.compose.project=p1\n&&\n",
      3,
    );
    assert.equal(answer, "ACK\nACK\nACK\n");
    socket.destroy();
    const result = await reaper.done;
    assert.deepEqual(result.removed.containers.sort(), ["mine1", "project1"]);
    assert.deepEqual(docker.removed.sort(), ["/containers/mine1", "/containers/project1"]);
    assert.equal(result.left, 0);
  });

  it("does not prune while a client is connected; a reconnection within the timeout cancels the prune", async () => {
    const docker = new RecordingDocker([{ Id: "c1", Created: 1, Labels: { x: "1" } }]);
    const reaper = await startReaper({ ...fast, reconnectionTimeoutMs: 300 }, { api: docker, log: quiet, host: "127.0.0.1" });
    const first = await client(reaper.port, "label=x=1\n", 1);
    const second = await client(reaper.port, "label=x=1\n", 1);
    first.socket.destroy();
    // With one client left, the prune must not start: the listing never happens while it stays.
    await new Promise<void>((resolve) => first.socket.on("close", () => resolve()));
    const third = await client(reaper.port, "label=x=1\n", 1);
    second.socket.destroy();
    assert.equal(docker.listed.length, 0, "no prune check while a client is connected");
    third.socket.destroy();
    const result = await reaper.done;
    assert.deepEqual(result.removed.containers, ["c1"]);
  });

  it("waits and looks again while matching containers are still being created", async () => {
    const now = Math.floor(Date.now() / 1000);
    const docker = new RecordingDocker([{ Id: "late", Created: now + 2, Labels: { x: "1" } }]);
    const reaper = await startReaper(fast, { api: docker, log: quiet, host: "127.0.0.1" });
    (await client(reaper.port, "label=x=1\n", 1)).socket.destroy();
    const result = await reaper.done;
    assert.ok(docker.listed.filter((l) => l.startsWith("/containers/json")).length >= 2, "looked again after a change");
    assert.deepEqual(result.removed.containers, ["late"]);
  });
});

/** A swarm manager's API: services, configs, task containers and a network of one stack. */
class SwarmManagerDocker extends RecordingDocker {
  constructor(private readonly manager: boolean) {
    super([]);
  }
  override async call(method: string, path: string): Promise<{ status: number; body: unknown }> {
    const old = "2020-01-01T00:00:00Z";
    if (method === "GET" && (path.startsWith("/services?") || path.startsWith("/configs?"))) {
      if (!this.manager) return { status: 503, body: { message: "This node is not a swarm manager." } };
      const kind = path.startsWith("/services?") ? "svc" : "cfg";
      return { status: 200, body: [{ ID: `${kind}1`, CreatedAt: old }] };
    }
    return super.call(method, path);
  }
  override async list(path: string): Promise<unknown> {
    // On the manager, a task container restarted just now: swarm's doing, it must not put the prune off.
    if (path === "/containers/json")
      return [
        { Id: "task1", Created: this.manager ? Math.floor(Date.now() / 1000) + 5 : 1, Labels: { "com.docker.swarm.service.id": "svc1" } },
      ];
    if (path === "/networks") return [{ Id: "net1", Created: "2020-01-01T00:00:00Z" }];
    if (path === "/volumes") return { Volumes: [] };
    return [];
  }
}

describe("reaper on a swarm manager (our addition)", () => {
  it("removes services first, then task containers and networks, then configs", async () => {
    const docker = new SwarmManagerDocker(true);
    const reaper = await startReaper(fast, { api: docker, log: quiet, host: "127.0.0.1" });
    (await client(reaper.port, "label=com.docker.stack.namespace=s1\n", 1)).socket.destroy();
    const result = await reaper.done;
    assert.deepEqual(docker.removed, ["/services/svc1", "/containers/task1", "/networks/net1", "/configs/cfg1"]);
    assert.deepEqual(result.removed.services, ["svc1"]);
    assert.deepEqual(result.removed.configs, ["cfg1"]);
    assert.equal(result.left, 0);
  });

  it("on an engine that is not a swarm manager (503) skips services and configs silently", async () => {
    const docker = new SwarmManagerDocker(false);
    const logged: string[] = [];
    const reaper = await startReaper(fast, { api: docker, log: (level, msg) => logged.push(`${level} ${msg}`), host: "127.0.0.1" });
    (await client(reaper.port, "label=x=1\n", 1)).socket.destroy();
    const result = await reaper.done;
    assert.deepEqual(docker.removed, ["/containers/task1", "/networks/net1"]);
    assert.deepEqual([result.removed.services, result.removed.configs], [[], []]);
    assert.deepEqual(
      logged.filter((l) => l.startsWith("ERROR")),
      [],
    );
  });
});
