// Shapes of a team's stack file (envoy-pipeline.yaml, or JSON with the same keys) and of the part
// of their compose file it is checked against. Unknown keys are errors: a typo must not be ignored.
import { z } from "zod";

const path = z.string().regex(/^\/[^\s?#]*$/, "must be a path starting with '/' (no spaces, query or fragment)");

export const POLICIES = ["round_robin", "least_request", "random", "ring_hash"] as const;
export const PROTOCOLS = ["http1", "http2"] as const;

export const stackServiceSchema = z
  .object({
    /** Path prefix Envoy routes to this service: `/api/orders/` (prefix) or `/service/1` (a whole segment). */
    route: path,
    /** Replaces the matched prefix before the request reaches the service. */
    rewrite: path.optional(),
    /** What verify requests through Envoy (default: the route). */
    request: path.optional(),
    /** Container port (default: the service's only exposed or published port). */
    port: z.number().int().min(1).max(65535).optional(),
    /** Envoy's active health check path (default /healthz). */
    health: path.optional(),
    replicas: z.number().int().min(0).max(50).optional(),
    policy: z.enum(POLICIES).optional(),
    /** ring_hash only: the request header whose value picks the replica. */
    hashHeader: z
      .string()
      .regex(/^[a-zA-Z0-9-]+$/, "must be a header name")
      .optional(),
    /** xds only: per replica (1-based, compose's container number) load-balancing weight. */
    weights: z
      .record(z.string().regex(/^[1-9][0-9]*$/, "must be a replica number (1, 2, ...)"), z.number().int().min(1).max(1000))
      .optional(),
    protocol: z.enum(PROTOCOLS).optional(),
    /** Reachability rule (default: any 2xx status). */
    expect: z
      .object({ status: z.number().int().min(100).max(599).optional(), body: z.string().min(1).optional() })
      .strict()
      .optional(),
    /** Path of the service's own Prometheus metrics; absent: the replicas' own counts are not applicable. */
    metrics: path.optional(),
    /** Whether the service forwards trace headers (child spans); default false. */
    propagatesTrace: z.boolean().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.policy === "ring_hash" && s.hashHeader === undefined) {
      ctx.addIssue({ code: "custom", path: ["hashHeader"], message: "is required with policy ring_hash" });
    }
    if (s.hashHeader !== undefined && s.policy !== "ring_hash") {
      ctx.addIssue({ code: "custom", path: ["hashHeader"], message: "applies only to policy ring_hash" });
    }
  });

export const stackFileSchema = z
  .object({
    /** The team's compose file, relative to the stack file; never edited. */
    compose: z.string().min(1),
    /** Bring your own Envoy: the team's envoy.yaml, relative to the stack file. */
    envoy: z.string().min(1).optional(),
    services: z.record(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, "must be a compose service name"), stackServiceSchema),
  })
  .strict()
  .refine((f) => Object.keys(f.services).length > 0, { path: ["services"], message: "names no service" });

export type StackFile = z.infer<typeof stackFileSchema>;
export type StackServiceInput = z.infer<typeof stackServiceSchema>;

// The compose file: only what the stack file is checked against; everything else passes through.
const portSpec = z.union([z.string(), z.number(), z.object({ target: z.union([z.number(), z.string()]) }).passthrough()]);
export const composeServiceSchema = z
  .object({ expose: z.array(z.union([z.string(), z.number()])).optional(), ports: z.array(portSpec).optional() })
  .passthrough();
export const composeFileSchema = z.object({ services: z.record(z.string(), composeServiceSchema.nullable()) }).passthrough();
export type ComposeServiceSpec = z.infer<typeof composeServiceSchema>;
