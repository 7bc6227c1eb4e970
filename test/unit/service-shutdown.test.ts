// The real entry point as a child process (`node --import tsx services/src/main.ts`): graceful
// shutdown on SIGTERM/SIGINT finishes requests in flight, refuses new connections, flushes spans,
// and exits 0; a configuration error exits 1 naming the variable. How fast it exits is measured
// by bench/service-shutdown.ts.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { test } from "vitest";
import { closeServer } from "../support/servers.ts";
import { fileURLToPath } from "node:url";
import { zipkinTraceId } from "../../services/src/tracing.ts";

const MAIN = fileURLToPath(new URL("../../services/src/main.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

type LogLine = Record<string, unknown> & { msg: string };

interface Child {
  proc: ChildProcess;
  port: number;
  lines: LogLine[];
  stderr: () => string;
  /** Resolves with the exit code and the performance.now() at exit. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  waitForLog(msg: string, ms?: number): Promise<LogLine>;
}

function launch(t: { onTestFinished(fn: () => unknown): void }, env: Record<string, string>): Child {
  const cleanEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(SERVICE_|PORT$|ZIPKIN_|REPORTED_|RESPONSE_DELAY|LOG_LEVEL$|SHUTDOWN_GRACE|NODE_OPTIONS$)/.test(k))
      cleanEnv[k] = v;
  }
  const proc = spawn(process.execPath, ["--import", "tsx", MAIN], {
    cwd: ROOT,
    env: { ...cleanEnv, PORT: "0", GRPC_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: LogLine[] = [];
  let stderr = "";
  let partial = "";
  const waiters = new Set<() => void>();
  proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    partial += chunk;
    const complete = partial.split("\n");
    partial = complete.pop() ?? "";
    for (const line of complete) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
    for (const w of waiters) w();
  });
  proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    proc.on("exit", (code, signal) => {
      const at = performance.now();
      for (const w of waiters) w();
      resolve({ code, signal, at });
    }),
  );
  t.onTestFinished(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  });
  const waitForLog = (msg: string, ms = 15_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const check = () => {
        const found = lines.find((l) => l.msg === msg);
        if (found) return done(() => resolve(found));
        if (proc.exitCode !== null || proc.signalCode !== null) {
          return done(() => reject(new Error(`child exited before logging "${msg}"; stderr: ${stderr}`)));
        }
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no "${msg}" log within ${ms} ms; stderr: ${stderr}`))), ms);
      const done = (f: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        f();
      };
      waiters.add(check);
      check();
    });
  return { proc, port: 0, lines, stderr: () => stderr, exited, waitForLog };
}

async function started(t: { onTestFinished(fn: () => unknown): void }, env: Record<string, string>): Promise<Child> {
  const child = launch(t, { SERVICE_ID: "1", ...env });
  const listening = await child.waitForLog("listening");
  child.port = Number(listening.port);
  assert.ok(child.port > 0, "listening line carries the port");
  return child;
}

function get(port: number, path: string, agent: http.Agent | false = false, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, agent, headers }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on("error", reject);
  });
}

function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.on("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

test("SIGTERM: the request in flight completes, new connections are refused, exit 0 after its answer", async (t) => {
  // A delay long enough that the signal always comes while the request waits; the test waits for
  // events, never for the delay.
  const child = await started(t, { RESPONSE_DELAY_MS: "2000", LOG_LEVEL: "debug" });
  const inflight = get(child.port, "/service/1", new http.Agent({ keepAlive: true }));
  let answeredAt = Number.POSITIVE_INFINITY;
  void inflight.then(() => (answeredAt = performance.now()));
  await child.waitForLog("request received");
  child.proc.kill("SIGTERM");
  await child.waitForLog("shutting down");
  const refused = await connectOutcome(child.port);

  const res = await inflight;
  const exit = await child.exited;

  assert.equal(res.status, 200, "the in-flight request was answered");
  assert.equal((JSON.parse(res.body) as { success: boolean }).success, true);
  assert.equal(res.headers.connection, "close", "a draining response tells the client not to reuse the connection");
  const order = child.lines.map((l) => l.msg).filter((m) => ["request received", "shutting down", "request", "stopped"].includes(m));
  assert.deepEqual(order, ["request received", "shutting down", "request", "stopped"], "the request was in flight when shutdown began");
  assert.equal(refused, "ECONNREFUSED", "no new connections once shutdown has begun");
  assert.equal(exit.code, 0, `exit code; stderr: ${child.stderr()}`);
  assert.ok(exit.at >= answeredAt - 5, "exit came after the in-flight response");
  const stopped = child.lines.find((l) => l.msg === "stopped");
  assert.equal(stopped?.clean, true);
});

test("SIGTERM with only an idle keep-alive connection exits 0 without waiting for it", async (t) => {
  const child = await started(t, {});
  const agent = new http.Agent({ keepAlive: true });
  t.onTestFinished(() => agent.destroy());
  const first = await get(child.port, "/service/1", agent);
  assert.equal(first.headers.connection, "keep-alive");
  child.proc.kill("SIGTERM");
  const exit = await child.exited;
  assert.equal(exit.code, 0);
  // Not cut at the drain deadline: the idle connection was closed at once.
  assert.equal(child.lines.find((l) => l.msg === "stopped")?.clean, true);
  assert.ok(!child.lines.some((l) => l.msg === "requests still in flight at the drain deadline; closing their connections"));
});

test("SIGTERM with a grace period: still serving, /healthz 503 and every answer tells Envoy to fail the host; then the listener closes and it exits 0", async (t) => {
  // Long enough for the requests below on a busy machine; the test waits for events, not for it.
  const child = await started(t, { SHUTDOWN_GRACE_MS: "3000" });
  child.proc.kill("SIGTERM");
  await child.waitForLog("draining: still serving, /healthz answers 503");

  // New connections are still accepted while draining: what Envoy sends meanwhile is answered.
  const [health, answer] = await Promise.all([get(child.port, "/healthz"), get(child.port, "/service/1")]);
  const exit = await child.exited;
  const refused = await connectOutcome(child.port);

  assert.equal(health.status, 503);
  assert.equal(health.headers["x-envoy-immediate-health-check-fail"], "true");
  assert.equal(answer.status, 200, "a request during the grace period is served");
  assert.equal(answer.headers["x-envoy-immediate-health-check-fail"], "true", "Envoy fails the host's health check at this answer");
  assert.equal(answer.headers.connection, "close");
  const order = child.lines
    .map((l) => l.msg)
    .filter((m) => ["draining: still serving, /healthz answers 503", "request", "stopped"].includes(m));
  assert.deepEqual(order.slice(0, 1), ["draining: still serving, /healthz answers 503"]);
  assert.equal(order.at(-1), "stopped", "the listener closed only after the grace period's requests");
  assert.equal(exit.code, 0, `exit code; stderr: ${child.stderr()}`);
  assert.equal(refused, "ECONNREFUSED", "nothing listens after the exit");
});

test("SIGINT shuts down the same way", async (t) => {
  const child = await started(t, {});
  child.proc.kill("SIGINT");
  const exit = await child.exited;
  assert.equal(exit.code, 0);
  assert.equal(child.lines.find((l) => l.msg === "shutting down")?.signal, "SIGINT");
});

async function collector(t: { onTestFinished(fn: () => unknown): void }, hang = false) {
  const bodies: { traceId: string }[][] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      if (hang) return;
      bodies.push(JSON.parse(body) as { traceId: string }[]);
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.onTestFinished(() => closeServer(server));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2/spans`, bodies };
}

test("queued spans are flushed on shutdown, before the 500 ms timer", async (t) => {
  const zipkin = await collector(t);
  const child = await started(t, { ZIPKIN_ENDPOINT: zipkin.endpoint });
  const res = await get(child.port, "/service/1", false, { "x-b3-traceid": "5af7183fb1d4cf5f", "x-b3-spanid": "6b221d5bc9e6496c" });
  assert.equal(res.status, 200);
  child.proc.kill("SIGTERM");
  const exit = await child.exited;
  assert.equal(exit.code, 0);
  assert.deepEqual(
    zipkin.bodies.flat().map((s) => zipkinTraceId(s.traceId)),
    ["5af7183fb1d4cf5f"],
  );
});

test("a collector that never answers cannot hold shutdown: exit 0, the lost spans logged", async (t) => {
  const zipkin = await collector(t, true);
  const child = await started(t, { ZIPKIN_ENDPOINT: zipkin.endpoint });
  await get(child.port, "/service/1", false, { "x-b3-traceid": "5af7183fb1d4cf5f", "x-b3-spanid": "6b221d5bc9e6496c" });
  child.proc.kill("SIGTERM");
  const exit = await child.exited;
  assert.equal(exit.code, 0, "not the hard deadline's exit 1");
  assert.ok(
    child.lines.some((l) => l.msg === "zipkin flush on shutdown timed out"),
    "the lost spans are logged",
  );
});

test("a configuration error exits 1 and names the variable", async (t) => {
  const child = launch(t, { PORT: "not-a-port" });
  const exit = await child.exited;
  assert.equal(exit.code, 1);
  assert.match(child.stderr(), /SERVICE_ID is required/);
  assert.match(child.stderr(), /PORT must be/);
  const logged = child.lines.find((l) => l.level === "error");
  assert.deepEqual(logged?.variables, ["SERVICE_ID", "PORT"]);
});
