// The gRPC half of the control plane's snapshot, as in envoy/envoy.yaml.
// Design notes: docs/xds.md ("xds/grpc-resources.ts").
import { TYPE, type Resource } from "./protos.ts";
import { PREVIOUS_HOSTS_PREDICATE } from "../envoy/config-parts.ts";

export interface GrpcServiceSpec {
  /** The service's HTTP cluster name (serviceN); the gRPC cluster is `${cluster}_grpc`. */
  cluster: string;
  /** Port the replicas serve gRPC on (50051). */
  port: number;
  /** Port of the L4 (tcp_proxy) listener to the gRPC cluster, when there is one. */
  tcpPort?: number;
}

export const grpcClusterOf = (cluster: string): string => `${cluster}_grpc`;

const duration = (seconds: number): { seconds: number; nanos: number } => ({
  seconds: Math.floor(seconds),
  nanos: Math.round((seconds - Math.floor(seconds)) * 1e9),
});

/** The grpc_stats filter, placed before the router: per-method, per-status counters and upstream call times. */
export const GRPC_STATS_FILTER = {
  name: "envoy.filters.http.grpc_stats",
  typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig",
    emit_filter_state: true,
    stats_for_all_methods: { value: true },
    enable_upstream_stats: true,
  },
};

export function grpcVirtualHost(s: GrpcServiceSpec): Record<string, unknown> {
  return {
    name: `grpc_${s.cluster}`,
    domains: [s.cluster, `${s.cluster}:*`],
    routes: [
      {
        match: { prefix: "/", grpc: {} },
        route: {
          cluster: grpcClusterOf(s.cluster),
          timeout: duration(5),
          retry_policy: {
            retry_on: "unavailable,connect-failure,refused-stream",
            num_retries: { value: 2 },
            retry_host_predicate: [...PREVIOUS_HOSTS_PREDICATE],
          },
        },
      },
    ],
  };
}

export function grpcCluster(s: GrpcServiceSpec, lbPolicy: string): Resource {
  return {
    "@type": TYPE.cluster,
    name: grpcClusterOf(s.cluster),
    type: "EDS",
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: "V3" } },
    lb_policy: lbPolicy,
    common_lb_config: { healthy_panic_threshold: { value: 0 } },
    connect_timeout: duration(0.5),
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        common_http_protocol_options: { idle_timeout: duration(30) },
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    // Docker's health (EDS) says whether the container runs; the gRPC health service says whether
    // its gRPC side serves, which a replica can fail alone.
    health_checks: [
      {
        timeout: duration(1),
        interval: duration(2),
        no_traffic_interval: duration(0.5),
        unhealthy_interval: duration(0.5),
        unhealthy_threshold: { value: 2 },
        healthy_threshold: { value: 1 },
        grpc_health_check: { service_name: "envoypipeline.v1.Whoami" },
      },
    ],
  };
}

export function grpcTcpListener(bindAddress: string, s: GrpcServiceSpec & { tcpPort: number }): Resource {
  const name = `tcp_grpc_${s.cluster}`;
  return {
    "@type": TYPE.listener,
    name,
    address: { socket_address: { address: bindAddress, port_value: s.tcpPort } },
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.tcp_proxy",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
              stat_prefix: name,
              cluster: grpcClusterOf(s.cluster),
            },
          },
        ],
      },
    ],
  };
}
