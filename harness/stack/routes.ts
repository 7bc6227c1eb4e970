// How a compose service is reached through Envoy. The stack's convention, as in Envoy's
// front-proxy sandbox: compose service `serviceN` is Envoy cluster `serviceN` behind `/service/N`.
export interface ServiceRoute {
  service: string;
  cluster: string;
  /** Path a client requests through Envoy's listener. */
  path: string;
  /** The id the service must answer in `serviceid`. */
  id: string;
}

export function routeFor(service: string): ServiceRoute {
  const m = /^service(\d+)$/.exec(service);
  if (!m || m[1] === undefined) {
    throw new Error(`service '${service}' is not routed by the front proxy (expected a name like service1, reached at /service/1)`);
  }
  return { service, cluster: service, path: `/service/${m[1]}`, id: m[1] };
}
