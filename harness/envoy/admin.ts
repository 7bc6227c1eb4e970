// A typed client for Envoy's admin API (operations/admin in Envoy's docs). Every answer is parsed
// with zod, so a change in Envoy's output fails loudly with the field that moved.
import { z } from "zod";
import { errorMessage, PipelineError } from "../lib/errors.ts";
import { getJson, post, probe } from "../lib/http.ts";

/** proto3 JSON writes uint64 counters as strings and leaves zeros out. */
const counter = z
  .union([z.string(), z.number()])
  .optional()
  .transform((v) => (v === undefined ? 0 : Number(v)));

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

const statsSchema = z.object({
  stats: z
    .array(
      z.union([
        z.object({ name: z.string(), value: z.number() }),
        // Histograms come as { histograms: {...} }; they are skipped.
        z.object({ histograms: z.unknown() }).transform(() => ({ name: undefined, value: undefined })),
      ]),
    )
    .default([]),
});

const listenersSchema = z.object({
  listener_statuses: z
    .array(
      z.object({
        name: z.string(),
        local_address: z.object({ socket_address: z.object({ address: z.string(), port_value: z.number().int() }).optional() }).optional(),
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

export class EnvoyAdminError extends PipelineError {
  override name = "EnvoyAdminError";
}

/** /server_info: what the verifier needs (version, state, worker threads). */
export const serverInfoSchema = z.object({
  version: z.string(),
  state: z.string(),
  uptime_current_epoch: z.string().optional(),
  command_line_options: z
    .object({
      /** Worker threads (`--concurrency`); Envoy resolves 0 to the hardware thread count before reporting. */
      concurrency: z.number().int().min(0),
      mode: z.string().optional(),
    })
    .passthrough(),
});

export interface ServerInfo {
  version: string;
  state: string;
  /** Worker threads: each runs its own, uncoordinated load balancer per cluster. */
  concurrency: number;
}

/** A cluster as /config_dump shows it: only the load-balancing fields are read. */
const dumpedClusterSchema = z
  .object({
    name: z.string(),
    type: z.string().optional(),
    /** proto3 JSON omits the default, ROUND_ROBIN. */
    lb_policy: z.string().optional(),
    load_balancing_policy: z
      .object({
        policies: z
          .array(
            z.object({
              typed_extension_config: z.object({
                name: z.string().optional(),
                typed_config: z.object({ "@type": z.string() }).passthrough(),
              }),
            }),
          )
          .default([]),
      })
      .optional(),
    least_request_lb_config: z
      .object({ choice_count: z.number().int().optional(), active_request_bias: z.unknown().optional() })
      .passthrough()
      .optional(),
  })
  .passthrough();

const clustersDumpSchema = z.object({
  configs: z.array(z.object({ cluster: dumpedClusterSchema }).passthrough()).default([]),
});

/** Typed load-balancing policy extensions (Cluster.load_balancing_policy) by their proto type. */
const TYPED_POLICIES: Record<string, string> = {
  "envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin": "ROUND_ROBIN",
  "envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest": "LEAST_REQUEST",
  "envoy.extensions.load_balancing_policies.random.v3.Random": "RANDOM",
  "envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash": "RING_HASH",
  "envoy.extensions.load_balancing_policies.maglev.v3.Maglev": "MAGLEV",
  "envoy.extensions.load_balancing_policies.client_side_weighted_round_robin.v3.ClientSideWeightedRoundRobin":
    "CLIENT_SIDE_WEIGHTED_ROUND_ROBIN",
};

export interface LbPolicy {
  /** ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV, ... (the lb_policy enum names). */
  policy: string;
  /** Where it was read: the `lb_policy` enum or the first `load_balancing_policy` extension. */
  source: "lb_policy" | "load_balancing_policy";
  /** The typed config of a load_balancing_policy extension, or least_request_lb_config. */
  config: Record<string, unknown>;
  /** STATIC, STRICT_DNS, LOGICAL_DNS, EDS, ... when given. */
  discoveryType?: string;
}

const runtimeSchema = z.object({
  entries: z.record(z.string(), z.object({ final_value: z.string().optional() }).passthrough()),
});

export class EnvoyAdmin {
  constructor(
    /** e.g. http://127.0.0.1:9901 */
    readonly baseUrl: string,
    private readonly timeoutMs = 5000,
  ) {}

  /** GET a JSON document of the admin API; every failure is an EnvoyAdminError naming the URL. */
  private async getJson<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
    try {
      return await getJson(new URL(path, this.baseUrl), schema, { timeoutMs: this.timeoutMs });
    } catch (err) {
      throw new EnvoyAdminError(errorMessage(err));
    }
  }

  /** True when /ready answers 200 (Envoy's server state is LIVE). */
  async ready(): Promise<boolean> {
    return probe(new URL("/ready", this.baseUrl), { timeoutMs: this.timeoutMs });
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

  /** Envoy's version, state and worker-thread count (/server_info). */
  async serverInfo(): Promise<ServerInfo> {
    const data = await this.getJson("/server_info", serverInfoSchema);
    return { version: data.version, state: data.state, concurrency: data.command_line_options.concurrency };
  }

  /** Worker threads Envoy runs (`--concurrency` as resolved by Envoy). */
  async workers(): Promise<number> {
    return (await this.serverInfo()).concurrency;
  }

  /** Every cluster definition in /config_dump (static and dynamically added). */
  async clusterConfigs(): Promise<z.infer<typeof dumpedClusterSchema>[]> {
    const out: z.infer<typeof dumpedClusterSchema>[] = [];
    for (const resource of ["static_clusters", "dynamic_active_clusters"]) {
      const dump = await this.getJson(`/config_dump?resource=${resource}`, clustersDumpSchema);
      for (const entry of dump.configs) out.push(entry.cluster);
    }
    return out;
  }

  /** Clusters Envoy got over CDS: active, and warming (still waiting for their endpoints). */
  async dynamicClusterNames(): Promise<{ active: string[]; warming: string[] }> {
    const names = async (resource: string): Promise<string[]> =>
      (await this.getJson(`/config_dump?resource=${resource}`, clustersDumpSchema)).configs.map((entry) => entry.cluster.name);
    return { active: await names("dynamic_active_clusters"), warming: await names("dynamic_warming_clusters") };
  }

  /** The load-balancing policy Envoy runs for a cluster, read from /config_dump. */
  async lbPolicy(cluster: string): Promise<LbPolicy> {
    const found = (await this.clusterConfigs()).find((c) => c.name === cluster);
    if (!found) throw new EnvoyAdminError(`/config_dump has no cluster named '${cluster}'`);
    const discoveryType = found.type;
    const typed = found.load_balancing_policy?.policies[0]?.typed_extension_config;
    if (typed) {
      const { "@type": type, ...config } = typed.typed_config;
      const name = type.replace(/^type\.googleapis\.com\//, "");
      return {
        policy: TYPED_POLICIES[name] ?? name,
        source: "load_balancing_policy",
        config,
        ...(discoveryType ? { discoveryType } : {}),
      };
    }
    return {
      policy: found.lb_policy ?? "ROUND_ROBIN",
      source: "lb_policy",
      config: (found.least_request_lb_config as Record<string, unknown> | undefined) ?? {},
      ...(discoveryType ? { discoveryType } : {}),
    };
  }

  /**
   * Counters and gauges whose names match the RE2 `filter` (/stats?format=json&filter=...).
   * Histograms are left out. Values are numbers.
   */
  async stats(filter?: string): Promise<Record<string, number>> {
    const query = filter === undefined ? "" : `&filter=${encodeURIComponent(filter)}`;
    const data = await this.getJson(`/stats?format=json${query}`, statsSchema);
    const out: Record<string, number> = {};
    for (const entry of data.stats) {
      if ("name" in entry && entry.name !== undefined && entry.value !== undefined) out[entry.name] = entry.value;
    }
    return out;
  }

  /** Listener names and bound addresses (/listeners?format=json), e.g. to find a port 0 listener. */
  async listeners(): Promise<{ name: string; address: string; port: number }[]> {
    const data = await this.getJson("/listeners?format=json", listenersSchema);
    return data.listener_statuses.flatMap((l) =>
      l.local_address?.socket_address
        ? [{ name: l.name, address: l.local_address.socket_address.address, port: l.local_address.socket_address.port_value }]
        : [],
    );
  }

  /** Zeroes Envoy's counters (POST /reset_counters). Per-host counters are not reset by Envoy. */
  async resetCounters(): Promise<void> {
    await this.post("/reset_counters");
  }

  /**
   * Sets values in Envoy's admin runtime layer (POST /runtime_modify; envoy.yaml declares the
   * layer). They hold until Envoy restarts and override the static configuration they key.
   */
  async setRuntime(values: Record<string, string | number>): Promise<void> {
    const query = new URLSearchParams(Object.entries(values).map(([k, v]): [string, string] => [k, String(v)]));
    await this.post(`/runtime_modify?${query}`);
  }

  /** A runtime key's final value (GET /runtime), undefined when no layer sets it. */
  async runtimeValue(key: string): Promise<string | undefined> {
    const data = await this.getJson(`/runtime?format=json`, runtimeSchema);
    const value = data.entries[key]?.final_value;
    return value === undefined || value === "" ? undefined : value;
  }

  private async post(path: string): Promise<void> {
    try {
      await post(new URL(path, this.baseUrl), { timeoutMs: this.timeoutMs });
    } catch (err) {
      throw new EnvoyAdminError(errorMessage(err));
    }
  }

  /** One cluster by name; throws when Envoy has no such cluster. */
  async cluster(name: string): Promise<UpstreamCluster> {
    const found = (await this.clusters()).find((c) => c.name === name);
    if (!found) throw new EnvoyAdminError(`Envoy has no cluster named '${name}'`);
    return found;
  }
}
