// Pieces of Envoy configuration that the generated static file (render/) and the control plane's
// resources (xds/) both write, so that the two stay the same.

/** The JSON access log's fields (one line per request on Envoy's stdout). */
export const ACCESS_LOG_FIELDS = {
  time: "%START_TIME%",
  method: "%REQ(:METHOD)%",
  path: "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
  status: "%RESPONSE_CODE%",
  flags: "%RESPONSE_FLAGS%",
  duration_ms: "%DURATION%",
  upstream_cluster: "%UPSTREAM_CLUSTER%",
  upstream_host: "%UPSTREAM_HOST%",
  attempts: "%UPSTREAM_REQUEST_ATTEMPT_COUNT%",
  request_id: "%REQ(X-REQUEST-ID)%",
  bytes_received: "%BYTES_RECEIVED%",
  bytes_sent: "%BYTES_SENT%",
} as const;

/** A retry goes to another host than the ones already tried. */
export const PREVIOUS_HOSTS_PREDICATE = [
  {
    name: "envoy.retry_host_predicates.previous_hosts",
    typed_config: { "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate" },
  },
] as const;
