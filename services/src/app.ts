// Routing and request handling. createServer() returns a plain node:http Server, so tests start it
// on port 0 in-process and main.ts starts it on PORT.
//
//   GET|HEAD /service/:id  200 {"hostname","ip","serviceid","success":true,"time"} when :id is ours,
//                          404 {"success":false,"error","serviceid"} otherwise
//   GET|HEAD /healthz      200 {"status":"ok"}, 503 {"status":"shutting down"} while draining
//   GET|HEAD /metrics      Prometheus text
//   other paths            404 JSON; other methods on a known path: 405 JSON with Allow
//
// /healthz and /metrics are probes (Envoy's and Docker's health checks, Prometheus' scrapes): they
// are counted in the metrics but never traced, and logged at debug level when they succeed.
import http from "node:http";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { ServiceConfig } from "./config.js";
import { detectIdentity, type Identity } from "./identity.js";
import { Lifecycle } from "./lifecycle.js";
import { createLogger, type LogFields, type Logger } from "./logging.js";
import { ServiceMetrics, UNMATCHED_ROUTE, methodLabel } from "./metrics.js";
import { SpanStatusCode } from "@opentelemetry/api";
import { Tracing, zipkinTraceId } from "./tracing.js";

export interface ServiceOptions {
  config: ServiceConfig;
  /** Hostname and IP to report; detected (once) from the machine when omitted. */
  identity?: Identity;
  /** Defaults to JSON lines on stdout at config.logLevel. */
  logger?: Logger;
  /** Defaults to tracing that reports to config.zipkinEndpoint (records nothing when unset). */
  tracing?: Tracing;
  /** Pass the one main.ts shuts down with, so /healthz turns 503 while draining. */
  lifecycle?: Lifecycle;
  /** Include prom-client's process metrics (default true). */
  defaultMetrics?: boolean;
  /** Clock for the `time` field (tests). */
  now?: () => Date;
  /** Waits RESPONSE_DELAY_MS before an answer (tests pass one they release themselves). */
  sleep?: (ms: number) => Promise<unknown>;
}

interface Reply {
  status: number;
  body: string;
  contentType?: string;
  headers?: Record<string, string>;
}

interface RequestContext {
  params: Record<string, string>;
  path: string;
  method: string;
}

interface Route {
  template: string;
  pattern: RegExp;
  /** Names of the pattern's capture groups, in order. */
  params: readonly string[];
  methods: readonly string[];
  /**
   * Asked by machines every few seconds, not by anyone to follow: no span (it would fill Zipkin
   * with root spans and push real traces out of view), debug-level log lines.
   */
  probe?: true;
  handle(ctx: RequestContext): Reply | Promise<Reply>;
}

const JSON_TYPE = "application/json; charset=utf-8";
const READ_METHODS = ["GET", "HEAD"] as const;

/** UTC `YYYY-MM-DD HH:MM:SS`. */
export function formatTime(date: Date): string {
  return date.toISOString().slice(0, 19).replace("T", " ");
}

const json = (status: number, value: unknown, headers?: Record<string, string>): Reply => ({
  status,
  body: JSON.stringify(value),
  contentType: JSON_TYPE,
  ...(headers && { headers }),
});

/** The request path without the query, dot segments resolved; undefined when unparseable. */
function pathOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? "/", "http://service.invalid").pathname;
  } catch {
    return undefined;
  }
}

function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** Request ids are echoed into a response header: keep only ones that are safe and short. */
function requestIdOf(value: string | string[] | undefined): string {
  const id = Array.isArray(value) ? value[0] : value;
  return id !== undefined && /^[\x21-\x7e]{1,200}$/.test(id) ? id : randomUUID();
}

export function createServer(options: ServiceOptions): http.Server {
  const { config } = options;
  const identity = options.identity ?? detectIdentity(config.reportedHostname);
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const tracing = options.tracing ?? new Tracing({ endpoint: config.zipkinEndpoint, serviceName: config.serviceName, logger });
  const lifecycle = options.lifecycle ?? new Lifecycle();
  const now = options.now ?? (() => new Date());
  const delay = options.sleep ?? sleep;
  const metrics = new ServiceMetrics({
    serviceName: config.serviceName,
    replica: identity.hostname,
    defaultMetrics: options.defaultMetrics ?? true,
  });

  /** Answers to GET /service/:id so far (for FAIL_EVERY). */
  let served = 0;
  const routes: Route[] = [
    {
      template: "/service/:id",
      pattern: /^\/service\/([^/]+)\/?$/,
      params: ["id"],
      methods: READ_METHODS,
      async handle({ params }) {
        const asked = params.id ?? "";
        if (asked !== config.serviceId) {
          return json(404, {
            success: false,
            error: `this instance serves service ${config.serviceId}, not ${asked}`,
            serviceid: asked,
          });
        }
        if (config.responseDelayMs > 0) await delay(config.responseDelayMs);
        served += 1;
        const failing = config.failEvery !== undefined && served % config.failEvery === 0;
        // Key order is part of the contract.
        return json(failing ? 500 : 200, {
          hostname: identity.hostname,
          ip: identity.ip,
          serviceid: asked,
          success: !failing,
          time: formatTime(now()),
        });
      },
    },
    {
      template: "/healthz",
      pattern: /^\/healthz\/?$/,
      params: [],
      methods: READ_METHODS,
      probe: true,
      handle: () => (lifecycle.draining ? json(503, { status: "shutting down" }) : json(200, { status: "ok" })),
    },
    {
      template: "/metrics",
      pattern: /^\/metrics\/?$/,
      params: [],
      methods: READ_METHODS,
      probe: true,
      async handle() {
        return { status: 200, body: await metrics.render(), contentType: metrics.contentType };
      },
    },
  ];

  const probeRoutes = new Set(routes.filter((r) => r.probe).map((r) => r.template));

  function match(path: string): { route: Route; params: Record<string, string> } | undefined {
    for (const route of routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.params.forEach((name, i) => {
        params[name] = decodeParam(m[i + 1] ?? "");
      });
      return { route, params };
    }
    return undefined;
  }

  /**
   * Picks the route before anything runs, so the metrics label and the span name are known (and
   * probes are never traced) even if the handler fails.
   */
  function dispatch(method: string, path: string | undefined): { route: string; run: () => Reply | Promise<Reply> } {
    if (path === undefined) return { route: UNMATCHED_ROUTE, run: () => json(400, { success: false, error: "malformed request target" }) };
    const found = match(path);
    if (!found) {
      return { route: UNMATCHED_ROUTE, run: () => json(404, { success: false, error: `no route for ${method} ${path}` }) };
    }
    const { route, params } = found;
    if (!route.methods.includes(method)) {
      const allow = route.methods.join(", ");
      const error = `method ${method} not allowed on ${route.template}; allowed: ${allow}`;
      return { route: route.template, run: () => json(405, { success: false, error }, { allow }) };
    }
    return { route: route.template, run: () => route.handle({ params, path, method }) };
  }

  const server = http.createServer((req, res) => {
    const started = performance.now();
    const method = (req.method ?? "GET").toUpperCase();
    const path = pathOf(req.url);
    const picked = dispatch(method, path);
    const { route } = picked;
    const probe = probeRoutes.has(route);
    const span = probe ? undefined : tracing.startServerSpan(`${methodLabel(method).toLowerCase()} ${route}`, req.headers);
    const ids = span?.spanContext();
    const traceId = ids && zipkinTraceId(ids.traceId);
    const requestId = requestIdOf(req.headers["x-request-id"]);
    let requestBytes = 0;
    let responseBytes = 0;

    // Drain the body (none expected) so the connection stays usable, counting what arrives.
    req.on("data", (chunk: Buffer) => {
      requestBytes += chunk.length;
    });
    if (traceId !== undefined) res.setHeader("x-b3-traceid", traceId);
    res.setHeader("x-request-id", requestId);
    // The start of a request, at debug level: what "a request in flight" means when it is needed.
    logger.debug("request received", { method, path: path ?? req.url, request_id: requestId });

    res.on("close", () => {
      const durationMs = performance.now() - started;
      const aborted = !res.writableFinished;
      // A client that went away before we answered gets nginx's 499 in logs, metrics and span,
      // not the 200 that res.statusCode still holds by default.
      const status = aborted && !res.headersSent ? 499 : res.statusCode;
      metrics.observe({
        method,
        route,
        statusCode: status,
        durationSeconds: durationMs / 1000,
        requestBytes,
        responseBytes,
      });
      const fields: LogFields = {
        method,
        path: path ?? req.url,
        status,
        duration_ms: Math.round(durationMs * 1000) / 1000,
        request_id: requestId,
        ...(ids && { trace_id: traceId, span_id: ids.spanId }),
        route,
        bytes_in: requestBytes,
        bytes_out: responseBytes,
        ...(aborted && { aborted: true }),
      };
      if (status >= 500) logger.error("request", fields);
      else if (status < 400 && probe) logger.debug("request", fields);
      else logger.info("request", fields);

      // Unsampled requests get a non-recording span: build nothing for it.
      if (!span?.isRecording()) return;
      span.setAttributes({
        replica: identity.hostname,
        "service.id": config.serviceId,
        "http.method": method,
        "http.path": path ?? req.url ?? "",
        "http.route": route,
        "http.status_code": String(status),
        "guid:x-request-id": requestId,
        ...(req.socket.remoteAddress !== undefined && { "network.peer.address": req.socket.remoteAddress }),
      });
      if (aborted) span.setStatus({ code: SpanStatusCode.ERROR, message: "client closed the connection before the response was sent" });
      else if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: String(status) });
      span.end();
    });

    const respond = async (): Promise<void> => {
      let reply: Reply;
      try {
        reply = await picked.run();
      } catch (err) {
        logger.error("handler failed", { method, path, request_id: requestId, trace_id: traceId, error: err });
        reply = json(500, { success: false, error: "internal error" });
      }
      if (res.destroyed || res.headersSent) return;
      const body = Buffer.from(reply.body, "utf8");
      res.statusCode = reply.status;
      res.setHeader("content-type", reply.contentType ?? JSON_TYPE);
      res.setHeader("content-length", body.length);
      res.setHeader("cache-control", "no-store");
      for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
      // While draining, tell keep-alive clients (Envoy) not to reuse this connection, and Envoy to
      // fail this host's active health check now rather than at its next probe.
      if (lifecycle.draining) {
        res.setHeader("connection", "close");
        res.setHeader("x-envoy-immediate-health-check-fail", "true");
      }
      if (method === "HEAD") {
        res.end();
      } else {
        responseBytes = body.length;
        res.end(body);
      }
    };
    respond().catch((err: unknown) => {
      logger.error("response failed", { method, path, request_id: requestId, error: err });
      res.destroy();
    });
  });

  // Keep idle upstream connections open longer than the proxy does, so the proxy, not us, closes
  // them: otherwise a request Envoy sends just as we time a connection out is reset (a 503 at the
  // client). Envoy's cluster idle timeout (common_http_protocol_options.idle_timeout, default 1 h)
  // should be set below this, e.g. 60 s.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}
