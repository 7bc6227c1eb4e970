// A stack as the rest of the harness sees it: every default filled in, paths absolute, routes in
// the order Envoy must try them. Built from a team's stack file or from the built-in demo's.
import type { POLICIES, PROTOCOLS } from "./schema.ts";

export type Policy = { kind: Exclude<(typeof POLICIES)[number], "ring_hash"> } | { kind: "ring_hash"; hashHeader: string };

export interface StackService {
  /** The compose service, and Envoy's cluster for it. */
  name: string;
  route: string;
  /**
   * How Envoy matches the route: `prefix` when it ends in '/', else `path_separated_prefix` (the
   * route and anything below it, never `/service/10` for `/service/1`).
   */
  match: "prefix" | "path_separated_prefix";
  rewrite?: string;
  request: string;
  port: number;
  health: string;
  replicas: number;
  policy: Policy;
  /** xds only: weight per replica number; empty when every replica weighs 1. */
  weights: Record<string, number>;
  protocol: (typeof PROTOCOLS)[number];
  /** Reachability: the status wanted (absent: any 2xx) and a text the body must contain. */
  expect: { status?: number; body?: string };
  metrics?: string;
  propagatesTrace: boolean;
  /** Envoy's L4 (tcp_proxy) listener port for this service: 8081 for the first service, and on. */
  tcpPort: number;
}

export interface Stack {
  /** The stack file it came from, or "built-in demo stack". */
  source: string;
  /** Absolute path of the team's compose file. */
  composeFile: string;
  /** Absolute path of the team's own envoy.yaml, when they bring one. */
  envoyConfig?: string;
  /** In the stack file's order (which fixes the L4 ports). */
  services: StackService[];
}

export const HTTP_LISTENER_PORT = 8080;
export const DEFAULT_HEALTH = "/healthz";
/** One replica cannot show balancing: two unless the file says otherwise. */
export const DEFAULT_REPLICAS = 2;

/** Whether Envoy's match for `s` takes `path` (query string aside). */
export function routeTakes(s: Pick<StackService, "route" | "match">, path: string): boolean {
  const p = path.split("?")[0] ?? path;
  if (s.match === "prefix") return p.startsWith(s.route);
  return p === s.route || p.startsWith(`${s.route}/`);
}

/** Longest route first: Envoy takes the first match, so a longer prefix must come before its parent. */
export function routeOrder(services: readonly StackService[]): StackService[] {
  return [...services].sort((a, b) => b.route.length - a.route.length || a.name.localeCompare(b.name));
}
