// The Envoy resources the control plane serves, built from what it knows.
// Design notes: docs/xds.md ("xds/resources.ts").
import { TYPE, type Resource } from "./protos.ts";
import type { Resources } from "./cache.ts";
import { GRPC_STATS_FILTER, grpcCluster, grpcClusterOf, grpcTcpListener, grpcVirtualHost } from "./grpc-resources.ts";
import { ACCESS_LOG_FIELDS, PREVIOUS_HOSTS_PREDICATE } from "../envoy/config-parts.ts";

export type EndpointHealth = "HEALTHY" | "UNHEALTHY" | "DRAINING";

export interface Endpoint {
  address: string;
  port: number;
  health: EndpointHealth;
  /** load_balancing_weight (1 when unset). */
  weight?: number;
  /** Shown as the host's hostname in Envoy's /clusters: the container's name. */
  hostname?: string;
}

export interface ServiceSpec {
  /** Envoy cluster name (= compose service name, see harness/stack/routes.ts). */
  cluster: string;
  /** HTTP path prefix routed to it, e.g. /service/1. */
  path: string;
  /** Port of a tcp_proxy (L4) listener to the same cluster, when there is one. */
  tcpPort?: number;
  /** The replicas' gRPC port and the L4 listener to it, when the service speaks gRPC (grpc-resources.ts). */
  grpc?: { port: number; tcpPort?: number };
}

export interface FrontProxySpec {
  /** Port of the HTTP listener (8080 in the stack, as in envoy.yaml). */
  httpPort: number;
  /** Address listeners bind to (0.0.0.0 in a container, 127.0.0.1 for local tests). */
  bindAddress: string;
  services: readonly ServiceSpec[];
  lbPolicy: "ROUND_ROBIN" | "LEAST_REQUEST" | "RANDOM";
  /** Zipkin collector (host resolved by DNS, as in envoy.yaml); no tracing when absent. */
  zipkin?: { host: string; port: number };
}

export const ROUTE_CONFIG_NAME = "front_routes";
const HTTP_LISTENER_NAME = "front";

const duration = (seconds: number): { seconds: number; nanos: number } => ({
  seconds: Math.floor(seconds),
  nanos: Math.round((seconds - Math.floor(seconds)) * 1e9),
});

/** google.protobuf.Struct of strings in protobufjs' object form (it does not map plain JSON; its built-in
 * well-known types keep camelCase field names). */
const struct = (fields: Record<string, string>) => ({
  fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, { stringValue: v }])),
});

const socket = (address: string, port: number) => ({ socket_address: { address, port_value: port } });

function accessLog(): unknown[] {
  return [
    {
      name: "envoy.access_loggers.stdout",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
        log_format: {
          json_format: struct({ ...ACCESS_LOG_FIELDS }),
        },
      },
    },
  ];
}

function httpListener(spec: FrontProxySpec): Resource {
  const hcm: Record<string, unknown> = {
    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    stat_prefix: "ingress_http",
    codec_type: "AUTO",
    generate_request_id: { value: true },
    access_log: accessLog(),
    rds: { route_config_name: ROUTE_CONFIG_NAME, config_source: { ads: {}, resource_api_version: "V3" } },
    http_filters: [
      GRPC_STATS_FILTER,
      {
        name: "envoy.filters.http.router",
        typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
      },
    ],
  };
  if (spec.zipkin) {
    hcm.tracing = {
      random_sampling: { value: 100 },
      provider: {
        name: "envoy.tracers.zipkin",
        typed_config: {
          "@type": "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig",
          collector_cluster: "zipkin",
          collector_endpoint: "/api/v2/spans",
          collector_endpoint_version: "HTTP_JSON",
          trace_id_128bit: true,
          shared_span_context: { value: true },
        },
      },
    };
  }
  return {
    "@type": TYPE.listener,
    name: HTTP_LISTENER_NAME,
    address: socket(spec.bindAddress, spec.httpPort),
    filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: hcm }] }],
  };
}

/** An L4 listener: each TCP connection goes to one replica of the cluster, for its whole life. */
function tcpListener(spec: FrontProxySpec, service: ServiceSpec & { tcpPort: number }): Resource {
  return {
    "@type": TYPE.listener,
    name: `tcp_${service.cluster}`,
    address: socket(spec.bindAddress, service.tcpPort),
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.tcp_proxy",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
              stat_prefix: `tcp_${service.cluster}`,
              cluster: service.cluster,
            },
          },
        ],
      },
    ],
  };
}

function routeConfiguration(spec: FrontProxySpec): Resource {
  return {
    "@type": TYPE.route,
    name: ROUTE_CONFIG_NAME,
    virtual_hosts: [
      ...grpcServices(spec).map(grpcVirtualHost),
      {
        name: "services",
        domains: ["*"],
        // As in envoy.yaml: a replica that went away between two updates refuses the connection:
        // try another host instead of failing the request.
        retry_policy: {
          retry_on: "connect-failure,refused-stream,reset",
          num_retries: { value: 2 },
          retry_host_predicate: [...PREVIOUS_HOSTS_PREDICATE],
          host_selection_retry_max_attempts: 3,
        },
        routes: spec.services.map((s) => ({
          match: { path_separated_prefix: s.path },
          route: { cluster: s.cluster, timeout: duration(5) },
        })),
      },
    ],
  };
}

function edsCluster(spec: FrontProxySpec, name: string): Resource {
  return {
    "@type": TYPE.cluster,
    name,
    type: "EDS",
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: "V3" } },
    lb_policy: spec.lbPolicy,
    // Only HEALTHY endpoints get traffic, however few they are. Envoy's default panic threshold
    // (50 %) would balance over every endpoint once fewer than half are healthy: on a scale
    // 1 → 3 the two replicas Docker still calls "starting" got requests before their health check
    // passed, and replicas DRAINING on a scale 3 → 1 stayed in the rotation.
    common_lb_config: { healthy_panic_threshold: { value: 0 } },
    connect_timeout: duration(0.5),
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        // As in envoy.yaml: close idle upstream connections well before the service does.
        common_http_protocol_options: { idle_timeout: duration(30) },
        explicit_http_config: { http_protocol_options: {} },
      },
    },
  };
}

function zipkinCluster(zipkin: { host: string; port: number }): Resource {
  // The trace collector is no scaled service: resolved by DNS like in envoy.yaml.
  return {
    "@type": TYPE.cluster,
    name: "zipkin",
    type: "STRICT_DNS",
    lb_policy: "ROUND_ROBIN",
    connect_timeout: duration(1),
    dns_lookup_family: "V4_ONLY",
    load_assignment: {
      cluster_name: "zipkin",
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socket(zipkin.host, zipkin.port) } }] }],
    },
  };
}

export function loadAssignment(cluster: string, endpoints: readonly Endpoint[]): Resource {
  return {
    "@type": TYPE.endpoint,
    cluster_name: cluster,
    endpoints: [
      {
        lb_endpoints: [...endpoints]
          .sort((a, b) => a.address.localeCompare(b.address) || a.port - b.port)
          .map((e) => ({
            endpoint: { address: socket(e.address, e.port), ...(e.hostname ? { hostname: e.hostname } : {}) },
            health_status: e.health,
            ...(e.weight !== undefined ? { load_balancing_weight: { value: e.weight } } : {}),
          })),
      },
    ],
  };
}

const grpcServices = (spec: FrontProxySpec) =>
  spec.services.flatMap((s) => (s.grpc ? [{ cluster: s.cluster, port: s.grpc.port, tcpPort: s.grpc.tcpPort }] : []));

/** The whole snapshot: listeners, the route configuration, clusters and their endpoints. */
export function frontProxyResources(spec: FrontProxySpec, endpoints: ReadonlyMap<string, readonly Endpoint[]>): Resources {
  const tcp = spec.services.filter((s): s is ServiceSpec & { tcpPort: number } => s.tcpPort !== undefined);
  const grpc = grpcServices(spec);
  const grpcTcp = grpc.filter((s): s is (typeof grpc)[number] & { tcpPort: number } => s.tcpPort !== undefined);
  return {
    [TYPE.listener]: [
      httpListener(spec),
      ...tcp.map((s) => tcpListener(spec, s)),
      ...grpcTcp.map((s) => grpcTcpListener(spec.bindAddress, s)),
    ],
    [TYPE.route]: [routeConfiguration(spec)],
    [TYPE.cluster]: [
      ...spec.services.map((s) => edsCluster(spec, s.cluster)),
      ...grpc.map((s) => grpcCluster(s, spec.lbPolicy)),
      ...(spec.zipkin ? [zipkinCluster(spec.zipkin)] : []),
    ],
    [TYPE.endpoint]: [
      ...spec.services.map((s) => loadAssignment(s.cluster, endpoints.get(s.cluster) ?? [])),
      // The same replicas on their gRPC port.
      ...grpc.map((s) =>
        loadAssignment(
          grpcClusterOf(s.cluster),
          (endpoints.get(s.cluster) ?? []).map((e) => ({ ...e, port: s.port })),
        ),
      ),
    ],
  };
}
