// The receiver under hostile traffic, over real sockets: nothing of a body is read before the
// signature header is there and well formed, bodies are bounded one by one (1 MiB by default) and
// all together, connections are capped, a slow request is cut when its timeout says, and refusals
// do not flood the log. bench/webhook-hostile.ts measures the memory this keeps.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { type Socket, connect } from "node:net";
import { afterEach, beforeEach, describe, it } from "vitest";
import { type WebhookApp, startWebhook } from "../../harness/webhook/app.ts";
import type { HttpLimits } from "../../harness/webhook/server.ts";
import { signBody } from "../../harness/webhook/signature.ts";
import { SECRET, deliver, fixture, pushPayload, tempDir, waitFor } from "../fixtures/webhook/helpers.ts";

let dir: { path: string; cleanup: () => void };
let apps: WebhookApp[] = [];
let sockets: Socket[] = [];
const lines: string[] = [];

async function start(options: { maxBodyBytes?: number; limits?: Partial<Omit<HttpLimits, "maxBodyBytes">> } = {}): Promise<WebhookApp> {
  const app = await startWebhook({
    port: 0,
    stateDir: dir.path,
    secrets: [SECRET],
    dryRun: true,
    ...options,
    log: { info: (m) => lines.push(m), warn: (m) => lines.push(`warning: ${m}`) },
    trigger: { kind: "local", describe: () => ({}), run: async () => ({ outcome: "succeeded", reason: null }) },
  });
  apps.push(app);
  return app;
}

interface Raw {
  /** The status line and headers, or null when the connection closed without an answer. */
  head: string | null;
  /** Milliseconds from connecting to the answer or the close. */
  ms: number;
  socket: Socket;
}

/** Sends a request head (and `body`, if any) on a raw socket and waits for the answer or the close. */
function raw(app: WebhookApp, headers: Record<string, string>, body: Buffer = Buffer.alloc(0)): Promise<Raw> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const socket = connect(app.port, "127.0.0.1");
    sockets.push(socket);
    let text = "";
    const done = (head: string | null): void => resolve({ head, ms: performance.now() - t0, socket });
    socket.on("error", () => undefined);
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      if (text.includes("\r\n\r\n")) done(text.slice(0, text.indexOf("\r\n\r\n")));
    });
    socket.on("close", () => done(text === "" ? null : text));
    const head = Object.entries({ host: "127.0.0.1", ...headers })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    socket.write(`POST /github-webhook/ HTTP/1.1\r\n${head}\r\n`);
    if (body.length > 0) socket.write(body);
  });
}

const delivery = (extra: Record<string, string>): Record<string, string> => ({
  "x-github-event": "push",
  "x-github-delivery": randomUUID(),
  "content-type": "application/json",
  ...extra,
});

beforeEach(() => {
  dir = tempDir();
  apps = [];
  sockets = [];
  lines.length = 0;
});

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  for (const app of apps) await app.stop({ kill: true });
  dir.cleanup();
});

describe("webhook receiver under hostile traffic", () => {
  it("answers 401 and closes before reading a body whose signature header is missing or malformed", async () => {
    const app = await start();
    // 10 MB announced, none sent: the answer cannot wait for the body.
    for (const signature of [undefined, "sha256=abc", "sha1=0000000000000000000000000000000000000000"]) {
      const r = await raw(app, delivery({ "content-length": "10000000", ...(signature ? { "x-hub-signature-256": signature } : {}) }));
      assert.match(r.head ?? "(closed)", /^HTTP\/1\.1 401 /, `signature ${signature}`);
      assert.match(r.head ?? "", /connection: close/i);
    }
  });

  it("takes bodies up to 1 MiB by default (413 beyond); a larger limit is opt-in", async () => {
    const app = await start();
    const padded = (bytes: number) => ({ ...pushPayload(), padding: "x".repeat(bytes) });
    assert.equal((await deliver(app.url, { payload: padded(512 * 1024) })).status, 202);
    const big = await deliver(app.url, { payload: padded(2 * 1024 * 1024) });
    assert.equal(big.status, 413);
    assert.match(String(big.json.error), /limit of 1048576 bytes/);
    await app.stop();
    const large = await start({ maxBodyBytes: 25 * 1024 * 1024 });
    assert.equal((await deliver(large.url, { payload: padded(2 * 1024 * 1024) })).status, 202);
  });

  it("503 when the bodies being read at once would pass the in-flight budget; the budget is given back", async () => {
    const app = await start({ maxBodyBytes: 64 * 1024, limits: { inFlightBytes: 100 * 1024 } });
    const body = Buffer.from(JSON.stringify({ ...pushPayload(), padding: "y".repeat(50 * 1024) }));
    const signed = (): Record<string, string> => delivery({ "x-hub-signature-256": signBody(SECRET, body) });
    // One body, 50 KiB of it sent and held.
    void raw(app, { ...signed(), "content-length": String(body.length) }, body.subarray(0, 50 * 1024));
    const holder = sockets.at(-1) as Socket;
    await waitFor("the held body to be read", () => app.http.bodyBytesInFlight >= 50 * 1024);
    const declared = await raw(app, { ...signed(), "content-length": String(body.length) });
    assert.match(declared.head ?? "(closed)", /^HTTP\/1\.1 503 /, "refused on its Content-Length, unread");
    const chunked = await deliver(app.url, { payload: { ...pushPayload(), padding: "y".repeat(55 * 1024) }, chunked: true });
    assert.equal(chunked.status, 503, "refused while reading, when the budget ran out");
    assert.match(String(chunked.json.error), /too many bodies at once/);
    holder.destroy();
    await waitFor("the held body's bytes to be given back", () => app.http.bodyBytesInFlight === 0);
    assert.equal((await deliver(app.url, { payload: JSON.parse(body.toString()) })).status, 202);
  });

  it("closes connections beyond --max-connections on accept; the others are served", async () => {
    const app = await start({ limits: { maxConnections: 3 } });
    const held = await Promise.all(
      [1, 2, 3].map(
        () =>
          new Promise<Socket>((resolve) => {
            const s = connect(app.port, "127.0.0.1", () => resolve(s));
            s.on("error", () => undefined);
            sockets.push(s);
          }),
      ),
    );
    const extra = await raw(app, delivery({ "content-length": "0" }));
    assert.equal(extra.head, null, "the fourth connection is closed without an answer");
    for (const s of held) s.destroy();
    let open = 3;
    await waitFor("the server to see the connections closed", () => {
      app.http.server.getConnections((_, n) => {
        open = n;
      });
      return open === 0;
    });
    const ok = await deliver(app.url, { event: "ping", payload: fixture("ping") });
    assert.equal(ok.status, 200);
  });

  it("a request that trickles its body is cut when its request timeout says, not up to 30 s later", async () => {
    const app = await start({ limits: { requestTimeoutMs: 1_500, headersTimeoutMs: 1_000 } });
    const body = Buffer.from(JSON.stringify(pushPayload()));
    const r = await raw(
      app,
      delivery({ "x-hub-signature-256": signBody(SECRET, body), "content-length": String(body.length) }),
      body.subarray(0, 10),
    );
    assert.ok(r.ms >= 1_400, `cut after ${r.ms.toFixed(0)} ms`);
    assert.ok(r.ms < 3_000, `cut after ${r.ms.toFixed(0)} ms, more than a second past the 1.5 s timeout`);
  });

  it("refusals are logged at a limited rate: one line, then a sum with the count", async () => {
    const app = await start();
    for (let i = 0; i < 40; i++) assert.equal((await deliver(app.url, { secret: "wrong" })).status, 401);
    for (let i = 0; i < 10; i++) assert.equal((await deliver(app.url, { secret: null })).status, 401);
    assert.equal(lines.filter((l) => l.includes("refused")).length, 1, lines.join("\n"));
    await app.stop();
    const refused = lines.filter((l) => l.includes("refused"));
    assert.equal(refused.length, 2, refused.join("\n"));
    assert.match(
      refused[1] ?? "",
      /refused 49 more deliveries: 39 × 401: X-Hub-Signature-256 does not match .*; 10 × 401: missing X-Hub-Signature-256 header/,
    );
  });
});
