// The HTTP side: only POST /github-webhook/ (404 elsewhere, 405 for other methods), bodies up to
// a limit (413 beyond, checked on Content-Length and while reading), then the Receiver decides.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { WEBHOOK_PATH } from "./config.ts";
import { ListenError } from "./errors.ts";
import type { Answer, Receiver } from "./receiver.ts";

export interface HttpOptions {
  readonly host: string;
  readonly port: number;
  readonly maxBodyBytes: number;
  readonly receiver: Receiver;
}

export interface HttpEndpoint {
  readonly server: Server;
  /** `http://<host>:<port>/github-webhook/` */
  readonly url: string;
  readonly port: number;
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

type Body = { ok: true; body: Buffer } | { ok: false; tooLarge: boolean };

function readBody(req: IncomingMessage, limit: number): Promise<Body> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (result: Body): void => {
      if (settled) return;
      settled = true;
      req.off("data", onData);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        settle({ ok: false, tooLarge: true });
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => settle({ ok: true, body: Buffer.concat(chunks, size) }));
    req.once("error", () => settle({ ok: false, tooLarge: false }));
    req.once("aborted", () => settle({ ok: false, tooLarge: false }));
  });
}

export function listen(options: HttpOptions): Promise<HttpEndpoint> {
  let closing = false;
  // While shutting down, every answer closes its connection so that server.close() can finish.
  const send = (res: ServerResponse, answer: Answer, extraHeaders: Record<string, string> = {}): void =>
    sendAnswer(res, answer, closing ? { ...extraHeaders, connection: "close" } : extraHeaders);
  const tooLarge = (res: ServerResponse): void =>
    send(
      res,
      { status: 413, body: { error: `the body is larger than the limit of ${options.maxBodyBytes} bytes` } },
      { connection: "close" },
    );

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? "/", "http://receiver").pathname;
    } catch {
      send(res, { status: 400, body: { error: "the request URL cannot be parsed" } });
      return;
    }
    if (pathname !== WEBHOOK_PATH && pathname !== WEBHOOK_PATH.slice(0, -1)) {
      send(res, { status: 404, body: { error: `not found: GitHub webhooks are received at POST ${WEBHOOK_PATH}` } });
      return;
    }
    if (req.method !== "POST") {
      send(res, { status: 405, body: { error: `method ${req.method} not allowed: use POST` } }, { allow: "POST" });
      return;
    }
    if (closing) {
      send(res, { status: 503, body: { error: "the receiver is shutting down; redeliver later" } }, { connection: "close" });
      return;
    }
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) > options.maxBodyBytes) {
      tooLarge(res);
      return;
    }
    const body = await readBody(req, options.maxBodyBytes);
    if (!body.ok) {
      if (body.tooLarge) tooLarge(res);
      else req.destroy();
      return;
    }
    send(res, await options.receiver.handle(req.headers, body.body));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, { status: 500, body: { error: `internal error: ${(err as Error).message}` } });
      else res.destroy();
    });
  });
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;

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
        url: `http://${host}:${port}${WEBHOOK_PATH}`,
        close: () =>
          new Promise<void>((done) => {
            closing = true;
            const force = setTimeout(() => server.closeAllConnections(), 10_000);
            force.unref();
            server.close(() => {
              clearTimeout(force);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    });
  });
}
