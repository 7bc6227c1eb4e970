// The parts of the front proxy's configuration that do not depend on the stack: the same as in
// envoy/envoy.yaml, whose comments give the reasons (a unit test keeps the two equal).
import { ACCESS_LOG_FIELDS, PREVIOUS_HOSTS_PREDICATE } from "../envoy/config-parts.ts";
export const ZIPKIN_CLUSTER = {
  name: "zipkin",
  type: "STRICT_DNS",
  lb_policy: "ROUND_ROBIN",
  connect_timeout: "1s",
  dns_lookup_family: "V4_ONLY",
  load_assignment: {
    cluster_name: "zipkin",
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: "zipkin", port_value: 9411 } } } }] }],
  },
};

export const BOOTSTRAP = {
  node: { cluster: "front-envoy", id: "front-envoy" },
  admin: { address: { socket_address: { address: "0.0.0.0", port_value: 9901 } } },
  overload_manager: {
    refresh_interval: "0.25s",
    resource_monitors: [
      {
        name: "envoy.resource_monitors.cpu_utilization",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.resource_monitors.cpu_utilization.v3.CpuUtilizationConfig",
          mode: "CONTAINER",
        },
      },
    ],
  },
  layered_runtime: {
    layers: [
      { name: "static", static_layer: { "tracing.zipkin.flush_interval_ms": 1000, "tracing.zipkin.min_flush_spans": 100 } },
      { name: "admin", admin_layer: {} },
    ],
  },
};

export const TRACING = {
  random_sampling: { value: 100 },
  provider: {
    name: "envoy.tracers.zipkin",
    typed_config: {
      "@type": "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig",
      collector_cluster: "zipkin",
      collector_endpoint: "/api/v2/spans",
      collector_endpoint_version: "HTTP_JSON",
      trace_id_128bit: true,
      shared_span_context: true,
    },
  },
};

export const ACCESS_LOG = [
  {
    name: "envoy.access_loggers.stdout",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
      log_format: {
        json_format: { ...ACCESS_LOG_FIELDS },
      },
    },
  },
];

const LOCAL_REPLY_FIELDS = { status: "%RESPONSE_CODE%", request_id: "%REQ(X-REQUEST-ID)%" };
export const LOCAL_REPLY_CONFIG = {
  mappers: [
    {
      filter: { response_flag_filter: { flags: ["NR"] } },
      body_format_override: {
        json_format: { success: false, error: "no route for %REQ(:METHOD)% %REQ(:PATH):200%", ...LOCAL_REPLY_FIELDS },
      },
    },
  ],
  body_format: { json_format: { success: false, error: "%LOCAL_REPLY_BODY%", ...LOCAL_REPLY_FIELDS } },
};

export const RETRY_POLICY = {
  retry_on: "connect-failure,refused-stream,reset",
  num_retries: 2,
  retry_host_predicate: [...PREVIOUS_HOSTS_PREDICATE],
  host_selection_retry_max_attempts: 3,
};

export const ROUTER_FILTER = {
  name: "envoy.filters.http.router",
  typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
};

/** Active health checking, without the path (per service). */
export const HEALTH_CHECK_TIMING = {
  timeout: "1s",
  interval: "2s",
  no_traffic_healthy_interval: "2s",
  no_traffic_interval: "0.5s",
  unhealthy_interval: "0.5s",
  unhealthy_threshold: 2,
  healthy_threshold: 1,
};
