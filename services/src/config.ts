// Configuration from the environment, parsed once at start-up with zod. Every problem is reported
// at once, each naming the variable, so a bad compose file fails with a message that says what to fix.
import { z } from "zod";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface ServiceConfig {
  /** SERVICE_ID: the id this instance serves, as in GET /service/:id (e.g. "1"). Required. */
  serviceId: string;
  /** PORT: TCP port to listen on (default 8080; 0 picks a free port, for tests). */
  port: number;
  /** GRPC_PORT: the gRPC (h2c) port, Whoami + Health + reflection (default 50051; 0 picks a free port, for tests). */
  grpcPort: number;
  /** ZIPKIN_ENDPOINT: Zipkin v2 JSON collector URL (e.g. http://zipkin:9411/api/v2/spans); unset = no reporting. */
  zipkinEndpoint: string | undefined;
  /** SERVICE_NAME: the Zipkin service name and the `service` metrics label (default `service${SERVICE_ID}`). */
  serviceName: string;
  /**
   * REPORTED_HOSTNAME: FOR TESTS ONLY. Overrides the hostname this replica reports (response body,
   * span `replica` tag, metrics `replica` label) instead of os.hostname(). It exists so that an
   * integration test can run a replica that lies about its identity and prove that the verifier
   * catches it (the reported hostname no longer matches the container id). Never set it in a real
   * deployment.
   */
  reportedHostname: string | undefined;
  /**
   * RESPONSE_DELAY_MS: artificial processing time added to GET /service/:id (default 0). For tests
   * and demonstrations only: it keeps a request in flight (graceful-shutdown test) and makes one
   * replica slower than the others (least-request balancing).
   */
  responseDelayMs: number;
  /**
   * FAIL_EVERY: FOR TESTS ONLY. Answers every Nth GET /service/:id with HTTP 500 and
   * `success: false` (still naming this replica), so that an integration test can run a replica
   * that fails some requests and prove that verify names it. Unset (the default): never.
   */
  failEvery: number | undefined;
  /** LOG_LEVEL: debug | info | warn | error (default info). Health and metrics scrapes log at debug. */
  logLevel: LogLevel;
  /**
   * SHUTDOWN_GRACE_MS: after SIGTERM, how long the service keeps accepting and serving while it
   * answers /healthz with 503 and marks every answer `x-envoy-immediate-health-check-fail`, before
   * it closes its listener (default 0: close at once). Time for the proxy in front to take it out
   * of rotation: Envoy keeps a host that left DNS until it fails a health check, so a replica that
   * closed at once is still picked, and refuses or times out, until then. The orchestrator's stop
   * timeout must cover it (swarm's stop_grace_period).
   */
  shutdownGraceMs: number;
}

/** Thrown by loadConfig; `variables` lists the environment variables that were wrong. */
export class ConfigError extends Error {
  readonly variables: readonly string[];
  constructor(message: string, variables: readonly string[]) {
    super(message);
    this.name = "ConfigError";
    this.variables = variables;
  }
}

const required = (what: string) => (issue: { input: unknown }) =>
  issue.input === undefined ? `is required (${what})` : "must be a string";

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const EnvSchema = z.object({
  SERVICE_ID: z
    .string({ error: required("the id this instance serves, e.g. SERVICE_ID=1") })
    .regex(NAME, 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit'),
  PORT: integer(0, 65535).optional(),
  GRPC_PORT: integer(0, 65535).optional(),
  ZIPKIN_ENDPOINT: z.url({ protocol: /^https?$/, error: "must be an http(s) URL such as http://zipkin:9411/api/v2/spans" }).optional(),
  SERVICE_NAME: z.string().regex(NAME, 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit').optional(),
  REPORTED_HOSTNAME: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/, "must be a hostname (letters, digits, '.', '-')")
    .optional(),
  RESPONSE_DELAY_MS: integer(0, 60_000).optional(),
  FAIL_EVERY: integer(1, 1_000_000).optional(),
  SHUTDOWN_GRACE_MS: integer(0, 60_000).optional(),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"], { error: "must be one of debug, info, warn, error" }).optional(),
});

type EnvKey = keyof z.infer<typeof EnvSchema>;
const KEYS = Object.keys(EnvSchema.shape) as EnvKey[];

/**
 * Reads the service's configuration from `env` (process.env by default). An empty variable counts
 * as unset. Throws ConfigError naming every variable that is missing or invalid.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): ServiceConfig {
  const input: Partial<Record<EnvKey, string>> = {};
  for (const key of KEYS) {
    const value = env[key]?.trim();
    if (value !== undefined && value !== "") input[key] = value;
  }
  const parsed = EnvSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? "environment"),
      message: issue.message,
    }));
    const message = `invalid service configuration: ${problems.map((p) => `${p.variable} ${p.message}`).join("; ")}`;
    throw new ConfigError(message, [...new Set(problems.map((p) => p.variable))]);
  }
  const e = parsed.data;
  return {
    serviceId: e.SERVICE_ID,
    port: e.PORT ?? 8080,
    grpcPort: e.GRPC_PORT ?? 50051,
    zipkinEndpoint: e.ZIPKIN_ENDPOINT,
    serviceName: e.SERVICE_NAME ?? `service${e.SERVICE_ID}`,
    reportedHostname: e.REPORTED_HOSTNAME,
    responseDelayMs: e.RESPONSE_DELAY_MS ?? 0,
    failEvery: e.FAIL_EVERY,
    logLevel: e.LOG_LEVEL ?? "info",
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS ?? 0,
  };
}
