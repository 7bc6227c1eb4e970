// A typed client for Envoy's admin API (operations/admin in Envoy's docs). Every answer is parsed
// with zod, so a change in Envoy's output fails loudly with the field that moved.
import { z } from "zod";
import { formatIssues } from "../config.ts";

/** proto3 JSON writes uint64 counters as strings and leaves zeros out. */
const counter = z.union([z.string(), z.number()]).optional().transform((v) => (v === undefined ? 0 : Number(v)));

const hostStatusSchema = z.object({
  address: z.object({
    socket_address: z.object({ address: z.string(), port_value: z.number().int() }),
  }),
  stats: z.array(z.object({ name: z.string(), value: counter, type: z.string().optional() })).default([]),
  health_status: z
    .object({
      eds_health_status: z.string().optional(),
      failed_active_health_check: z.boolean().optional(),
      failed_outlier_check: z.boolean().optional(),
      failed_eds_health: z.boolean().optional(),
      pending_dynamic_removal: z.boolean().optional(),
      pending_active_hc: z.boolean().optional(),
      excluded_via_immediate_hc_fail: z.boolean().optional(),
      active_hc_timeout: z.boolean().optional(),
    })
    .passthrough()
    .default({}),
  weight: z.number().int().optional(),
  hostname: z.string().optional(),
});

export const clustersSchema = z.object({
  cluster_statuses: z
    .array(
      z.object({
        name: z.string(),
        host_statuses: z.array(hostStatusSchema).default([]),
      }),
    )
    .default([]),
});

export interface UpstreamHost {
  /** IP address Envoy resolved for this endpoint. */
  ip: string;
  port: number;
  healthy: boolean;
  /** Why the host is not healthy (the health flags that are set), empty when healthy. */
  healthFlags: string[];
  weight: number;
  /** Per-host counters: rq_total, rq_success, rq_error, rq_active, cx_total, cx_active, cx_connect_fail ... */
  stats: Record<string, number>;
}

export interface UpstreamCluster {
  name: string;
  hosts: UpstreamHost[];
}

export class EnvoyAdminError extends Error {
  override name = "EnvoyAdminError";
}

export class EnvoyAdmin {
  constructor(
    /** e.g. http://127.0.0.1:9901 */
    readonly baseUrl: string,
    private readonly timeoutMs = 5000,
  ) {}

  private async get(path: string): Promise<Response> {
    const url = new URL(path, this.baseUrl);
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new EnvoyAdminError(`GET ${url}: ${(err as Error).message}`);
    }
    if (!res.ok) throw new EnvoyAdminError(`GET ${url}: HTTP ${res.status}`);
    return res;
  }

  private async getJson<T>(path: string, schema: z.ZodType<T>): Promise<T> {
    const res = await this.get(path);
    let data: unknown;
    try {
      data = await res.json();
    } catch (err) {
      throw new EnvoyAdminError(`GET ${path}: not JSON (${(err as Error).message})`);
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) throw new EnvoyAdminError(`GET ${path}: unexpected shape: ${formatIssues(parsed.error)}`);
    return parsed.data;
  }

  /** True when /ready answers 200 (Envoy's server state is LIVE). */
  async ready(): Promise<boolean> {
    try {
      await this.get("/ready");
      return true;
    } catch {
      return false;
    }
  }

  /** Upstream clusters with their hosts, health and per-host counters (/clusters?format=json). */
  async clusters(): Promise<UpstreamCluster[]> {
    const data = await this.getJson("/clusters?format=json", clustersSchema);
    return data.cluster_statuses.map((c) => ({
      name: c.name,
      hosts: c.host_statuses.map((h) => {
        const flags = Object.entries(h.health_status)
          .filter(([key, value]) => key !== "eds_health_status" && value === true)
          .map(([key]) => key);
        const eds = h.health_status.eds_health_status;
        if (eds !== undefined && eds !== "HEALTHY") flags.push(`eds_health_status=${eds}`);
        return {
          ip: h.address.socket_address.address,
          port: h.address.socket_address.port_value,
          healthy: flags.length === 0,
          healthFlags: flags,
          weight: h.weight ?? 1,
          stats: Object.fromEntries(h.stats.map((s) => [s.name, s.value])),
        };
      }),
    }));
  }

  /** One cluster by name; throws when Envoy has no such cluster. */
  async cluster(name: string): Promise<UpstreamCluster> {
    const found = (await this.clusters()).find((c) => c.name === name);
    if (!found) throw new EnvoyAdminError(`Envoy has no cluster named '${name}'`);
    return found;
  }
}
