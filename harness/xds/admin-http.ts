// The control plane's own small HTTP interface (beside the gRPC port).
// Design notes: docs/xds.md ("xds/admin-http.ts").
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { z } from "zod";
import { formatIssues } from "../lib/errors.ts";
import type { ControlPlane } from "./control-plane.ts";

/** The admin port inside the stack (docker-compose.xds.yml publishes it; drain.ts finds it there). */
export const CONTROL_PLANE_ADMIN_PORT = 18001;

export const drainRequestSchema = z.object({
  replicas: z.array(z.string().min(1)).min(1),
  timeoutMs: z.number().int().positive().max(60_000).optional(),
});

const MAX_BODY = 64 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY) reject(new Error("body too large"));
    });
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(`${JSON.stringify(body, null, 2)}\n`);
}

export function adminServer(cp: ControlPlane): Server {
  return createServer((req, res) => {
    const handle = async (): Promise<void> => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      if (req.method === "GET" && path === "/healthz") return send(res, 200, { ok: true, grpcPort: cp.port });
      if (req.method === "GET" && path === "/status") return send(res, 200, cp.status());
      if (req.method === "POST" && path === "/drain") {
        let data: unknown;
        try {
          data = JSON.parse(await readBody(req));
        } catch (err) {
          return send(res, 400, { error: `body: ${(err as Error).message}` });
        }
        const parsed = drainRequestSchema.safeParse(data);
        if (!parsed.success) return send(res, 400, { error: formatIssues(parsed.error) });
        return send(res, 200, await cp.drain(parsed.data.replicas, parsed.data.timeoutMs));
      }
      send(res, 404, { error: `no ${req.method} ${path} (GET /status, GET /healthz, POST /drain)` });
    };
    handle().catch((err: Error) => send(res, 500, { error: err.message }));
  });
}
