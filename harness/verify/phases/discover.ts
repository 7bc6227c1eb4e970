// Phase "discover": the desired state, the stack's containers and the URLs of Envoy, Prometheus and
// Zipkin, each found on its own (Zipkin missing must not keep the metrics check from running).
import { attempt, type Attempt } from "../../lib/attempt.ts";
import { log } from "../../lib/log.ts";
import type { ObservabilityEndpoints, ProbedService } from "../../observability/index.ts";
import type { ServiceState } from "../../stack/desired-state.ts";
import type { StackDirectory } from "../../stack/directory.ts";
import type { StackEndpoints } from "../../stack/discover.ts";
import type { StackLocator } from "../../stack/locator.ts";
import { routeFor } from "../../stack/routes.ts";

export type VerifyLocator = Pick<StackLocator, "serviceStates" | "directory" | "endpoints" | "publishedUrl">;

export interface Found {
  states: ServiceState[];
  directory: StackDirectory;
  envoy: Attempt<StackEndpoints>;
  prometheusUrl: Attempt<string>;
  zipkinUrl: Attempt<string>;
  /** The services as the metrics and tracing probes see them. */
  probed: ProbedService[];
}

/** A service with its route through Envoy, in the shape the checks take. */
export function routedService(service: string): { service: string; path: string; cluster: string; serviceId: string } {
  const route = routeFor(service);
  return { service, path: route.path, cluster: route.cluster, serviceId: route.id };
}

export async function discover(locator: VerifyLocator, desired: Record<string, number>, source: string, project: string): Promise<Found> {
  const scale = Object.entries(desired)
    .map(([s, n]) => `${s}=${n}`)
    .join(", ");
  log.info(`verify ${project}: reading the desired state (${scale}) and the stack from ${source}`);
  const [states, directory] = await Promise.all([locator.serviceStates(desired), locator.directory()]);
  const [envoy, prometheusUrl, zipkinUrl] = await Promise.all([
    attempt(() => locator.endpoints()),
    attempt(() => locator.publishedUrl("prometheus", 9090)),
    attempt(() => locator.publishedUrl("zipkin", 9411)),
  ]);
  const probed = states.map((s) => ({
    ...routedService(s.service),
    replicas: s.serving.map((r) => ({ hostname: r.hostname, ip: r.ip })),
  }));
  return { states, directory, envoy, prometheusUrl, zipkinUrl, probed };
}

/** Prometheus' and Zipkin's URLs, each when it was found running. */
export function observabilityUrls(found: Found): Partial<ObservabilityEndpoints> {
  return {
    ...(found.prometheusUrl.ok ? { prometheusUrl: found.prometheusUrl.value } : {}),
    ...(found.zipkinUrl.ok ? { zipkinUrl: found.zipkinUrl.value } : {}),
  };
}
