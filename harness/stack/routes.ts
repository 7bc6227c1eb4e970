// How a compose service is reached through Envoy. The stack's convention, as in Envoy's
// front-proxy sandbox: compose service `serviceN` is Envoy cluster `serviceN` behind `/service/N`.
export interface ServiceRoute {
  service: string;
  cluster: string;
  /** Path a client requests through Envoy's listener. */
  path: string;
  /** The id the service must answer in `serviceid`. */
  id: string;
  /**
   * Envoy's L4 (tcp_proxy) listener to the same cluster, inside the front-envoy container:
   * 8080 + N for serviceN (envoy/envoy.yaml, and the control plane in xds mode).
   */
  tcpPort: number;
  /** gRPC: the :authority that picks the service on Envoy's HTTP listener (its name), docs/grpc.md. */
  grpcAuthority: string;
  /** Envoy's gRPC cluster of the service (HTTP/2 to the replicas' GRPC_SERVICE_PORT). */
  grpcCluster: string;
  /** Envoy's L4 listener to the gRPC cluster, inside the front-envoy container: 50050 + N. */
  grpcTcpPort: number;
}

/** The port every replica serves gRPC on. */
export const GRPC_SERVICE_PORT = 50051;

const HTTP_LISTENER_PORT = 8080;

export function routeFor(service: string): ServiceRoute {
  const m = /^service(\d+)$/.exec(service);
  if (!m || m[1] === undefined) {
    throw new Error(`service '${service}' is not routed by the front proxy (expected a name like service1, reached at /service/1)`);
  }
  const n = Number(m[1]);
  return {
    service,
    cluster: service,
    path: `/service/${m[1]}`,
    id: m[1],
    tcpPort: HTTP_LISTENER_PORT + n,
    grpcAuthority: service,
    grpcCluster: `${service}_grpc`,
    grpcTcpPort: GRPC_SERVICE_PORT - 1 + n,
  };
}

/** The service whose L4 listener is on `port` in the front-envoy container (inverse of tcpPort). */
export function serviceOfTcpPort(port: number): string | undefined {
  const n = port - HTTP_LISTENER_PORT;
  return Number.isInteger(n) && n >= 1 && n < 1000 ? `service${n}` : undefined;
}

/** The service whose gRPC L4 listener is on `port` in the front-envoy container (inverse of grpcTcpPort). */
export function serviceOfGrpcTcpPort(port: number): string | undefined {
  const n = port - GRPC_SERVICE_PORT + 1;
  return Number.isInteger(n) && n >= 1 && n < 1000 ? `service${n}` : undefined;
}
