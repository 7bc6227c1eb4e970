// Prometheus metrics on a registry of our own (never prom-client's global one, so several servers
// in one test process do not collide). Every series carries `service` and `replica` as default
// labels, so a scrape through any path still says which replica answered. The `route` label is the
// route template (`/service/:id`), never the raw path, to keep cardinality bounded.
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface HttpObservation {
  method: string;
  /** Route template, or UNMATCHED_ROUTE. */
  route: string;
  statusCode: number;
  durationSeconds: number;
  requestBytes: number;
  responseBytes: number;
}

export interface MetricsOptions {
  serviceName: string;
  replica: string;
  /** Process metrics (CPU, memory, event loop lag, GC); on by default. */
  defaultMetrics?: boolean;
}

/** Route label for requests that matched no route. */
export const UNMATCHED_ROUTE = "unmatched";

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"]);

/** Method label: one of the standard methods, otherwise OTHER (Node accepts WebDAV verbs and more). */
export function methodLabel(method: string | undefined): string {
  const m = (method ?? "").toUpperCase();
  return KNOWN_METHODS.has(m) ? m : "OTHER";
}

// The service answers in well under a millisecond; the default prom-client buckets start at 5 ms.
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ServiceMetrics {
  readonly registry: Registry;
  private readonly requests: Counter<"method" | "route" | "status_code" | "status_class">;
  private readonly duration: Histogram<"method" | "route" | "status_code">;
  private readonly requestBytes: Counter<"route">;
  private readonly responseBytes: Counter<"route">;

  constructor(options: MetricsOptions) {
    this.registry = new Registry();
    this.registry.setDefaultLabels({ service: options.serviceName, replica: options.replica });
    // The event-loop lag monitor wakes the process every `precision` ms. prom-client's 10 ms made
    // an idle replica cost 0.006-0.012 core, 100 wake-ups a second with nothing to do (measured
    // against 0.0018 core at 200 ms, docs/performance.md); a stall still shows at 100 ms, as the
    // tick after it is late by the stall's length.
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
    const registers = [this.registry];
    this.requests = new Counter({
      name: "http_requests_total",
      help: "HTTP requests answered, by method, route template and status.",
      labelNames: ["method", "route", "status_code", "status_class"],
      registers,
    });
    this.duration = new Histogram({
      name: "http_request_duration_seconds",
      help: "Time from receiving the request to finishing the response, in seconds.",
      labelNames: ["method", "route", "status_code"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.requestBytes = new Counter({
      name: "http_request_size_bytes_total",
      help: "Request body bytes received, by route template.",
      labelNames: ["route"],
      registers,
    });
    this.responseBytes = new Counter({
      name: "http_response_size_bytes_total",
      help: "Response body bytes sent, by route template.",
      labelNames: ["route"],
      registers,
    });
    // prom-client creates a labelled series on its first increment. A replica whose first requests
    // all fall between two scrapes would then appear at its final count, and rate()/increase()
    // would never count them: publish the main route's series at zero from the start.
    const route = "/service/:id";
    this.requests.inc({ method: "GET", route, status_code: "200", status_class: "2xx" }, 0);
    this.duration.zero({ method: "GET", route, status_code: "200" });
    this.requestBytes.inc({ route }, 0);
    this.responseBytes.inc({ route }, 0);
  }

  observe(o: HttpObservation): void {
    const method = methodLabel(o.method);
    const status_code = String(o.statusCode);
    const status_class = `${Math.floor(o.statusCode / 100)}xx`;
    this.requests.inc({ method, route: o.route, status_code, status_class });
    this.duration.observe({ method, route: o.route, status_code }, o.durationSeconds);
    this.requestBytes.inc({ route: o.route }, o.requestBytes);
    this.responseBytes.inc({ route: o.route }, o.responseBytes);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
