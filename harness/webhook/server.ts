// The HTTP side: only POST /github-webhook/ (404 elsewhere, 405 for other methods).
// Design notes: docs/webhook.md ("webhook/server.ts").
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { WEBHOOK_PATH } from "./config.ts";
import { ListenError } from "./errors.ts";
import type { Answer, Receiver } from "./receiver.ts";
import type { StreamingSignature } from "./signature.ts";

export interface HttpLimits {
  /** Largest body accepted (413 beyond). */
  readonly maxBodyBytes: number;
  /** Bytes of all bodies held at once while being read (503 beyond). */
  readonly inFlightBytes: number;
  /** Open connections at once; more are closed on accept. */
  readonly maxConnections: number;
  /** Time for the request headers. */
  readonly headersTimeoutMs: number;
  /** Time for the whole request, body included. */
  readonly requestTimeoutMs: number;
}

export interface HttpOptions extends HttpLimits {
  readonly host: string;
  readonly port: number;
  readonly receiver: Receiver;
}

export interface HttpEndpoint {
  readonly server: Server;
  /** `http://<host>:<port>/github-webhook/` */
  readonly url: string;
  readonly port: number;
  /** Bytes of bodies being read right now (held until their request is answered). */
  readonly bodyBytesInFlight: number;
  /** Stops accepting: new connections are refused, requests on open ones get 503. */
  close(): Promise<void>;
}

function sendAnswer(res: ServerResponse, answer: Answer, extraHeaders: Record<string, string>): void {
  const text = `${JSON.stringify(answer.body)}\n`;
  res.writeHead(answer.status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...extraHeaders,
  });
  res.end(text);
}

type Body = { ok: true; body: Buffer } | { ok: false; status?: 413 | 503 };

/** The bytes held by bodies being read, across all requests. */
class Budget {
  used = 0;
  constructor(readonly limit: number) {}
  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used -= n;
  }
}

function readBody(req: IncomingMessage, limit: number, budget: Budget, signature: StreamingSignature): Promise<Body> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (result: Body): void => {
      if (settled) return;
      settled = true;
      req.off("data", onData);
      budget.give(size);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      if (size + chunk.length > limit) {
        settle({ ok: false, status: 413 });
        return;
      }
      if (!budget.take(chunk.length)) {
        settle({ ok: false, status: 503 });
        return;
      }
      size += chunk.length;
      signature.update(chunk);
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => settle({ ok: true, body: Buffer.concat(chunks, size) }));
    req.once("error", () => settle({ ok: false }));
    req.once("close", () => settle({ ok: false }));
  });
}

/** The answer to a request that is not a POST to the webhook path (it closes the connection); `null` for one that is. */
function misrouted(req: IncomingMessage): { answer: Answer; headers: Record<string, string> } | null {
  const close = { connection: "close" };
  let pathname: string;
  try {
    pathname = new URL(req.url ?? "/", "http://receiver").pathname;
  } catch {
    return { answer: { status: 400, body: { error: "the request URL cannot be parsed" } }, headers: close };
  }
  if (pathname !== WEBHOOK_PATH && pathname !== WEBHOOK_PATH.slice(0, -1)) {
    return { answer: { status: 404, body: { error: `not found: GitHub webhooks are received at POST ${WEBHOOK_PATH}` } }, headers: close };
  }
  if (req.method !== "POST") {
    return { answer: { status: 405, body: { error: `method ${req.method} not allowed: use POST` } }, headers: { allow: "POST", ...close } };
  }
  return null;
}

/** Stops accepting, lets requests in flight finish (idle connections closed now, the rest after 10 s). */
function shutDown(server: Server, receiver: Receiver): Promise<void> {
  return new Promise<void>((done) => {
    receiver.refusals.flush();
    const force = setTimeout(() => server.closeAllConnections(), 10_000);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      done();
    });
    server.closeIdleConnections();
  });
}

export function listen(options: HttpOptions): Promise<HttpEndpoint> {
  let closing = false;
  const budget = new Budget(options.inFlightBytes);
  const { receiver } = options;
  // While shutting down, every answer closes its connection so that server.close() can finish.
  const send = (res: ServerResponse, answer: Answer, extraHeaders: Record<string, string> = {}): void =>
    sendAnswer(res, answer, closing ? { ...extraHeaders, connection: "close" } : extraHeaders);
  // An answer before the body was read closes the connection: the rest of the body is not read.
  const refuse = (res: ServerResponse, answer: Answer): void => send(res, answer, { connection: "close" });
  const tooLarge = (): Answer =>
    receiver.refuse(413, `the body is larger than the limit of ${options.maxBodyBytes} bytes (--max-body-bytes)`);
  const busy = (): Answer => receiver.refuse(503, "the receiver is reading too many bodies at once; redeliver later");

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const wrong = misrouted(req);
    if (wrong) return send(res, wrong.answer, wrong.headers);
    if (closing) return refuse(res, { status: 503, body: { error: "the receiver is shutting down; redeliver later" } });
    const admission = receiver.admit(req.headers);
    if (admission.refused) return refuse(res, admission.refused);
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > options.maxBodyBytes) return refuse(res, tooLarge());
    if (declared > options.inFlightBytes - budget.used) return refuse(res, busy());
    const body = await readBody(req, options.maxBodyBytes, budget, admission.signature);
    if (!body.ok) {
      if (body.status === 413) refuse(res, tooLarge());
      else if (body.status === 503) refuse(res, busy());
      else req.destroy();
      return;
    }
    send(res, await receiver.handle(req.headers, body.body, admission.signature));
  };

  // connectionsCheckingInterval: how often Node checks headersTimeout and requestTimeout (default
  // 30 s, which would let a slow request live up to 30 s past its bound).
  const server = createServer(
    {
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, options.headersTimeoutMs),
    },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) send(res, { status: 500, body: { error: `internal error: ${(err as Error).message}` } });
        else res.destroy();
      });
    },
  );
  server.maxConnections = options.maxConnections;
  server.on("drop", () => receiver.refusals.note(503, `more than ${options.maxConnections} connections at once; connection closed`));

  return new Promise((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new ListenError(`cannot listen on ${options.host}:${options.port}: ${err.code ?? err.message}`)),
    );
    server.listen(options.port, options.host, () => {
      server.removeAllListeners("error");
      const { port } = server.address() as AddressInfo;
      const host = options.host.includes(":") ? `[${options.host}]` : options.host;
      resolve({
        server,
        port,
        get bodyBytesInFlight() {
          return budget.used;
        },
        url: `http://${host}:${port}${WEBHOOK_PATH}`,
        close: () => {
          closing = true;
          return shutDown(server, receiver);
        },
      });
    });
  });
}
