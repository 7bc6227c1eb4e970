// Host URLs of the stack's Prometheus and Zipkin, read from Docker like stackEndpoints() reads
// Envoy's: both publish on 127.0.0.1 with ports Docker picks, so the only truth is the container.
import type Dockerode from "dockerode";
import { DiscoveryError, projectContainers } from "../stack/discover.ts";

export interface ObservabilityEndpoints {
  /** Prometheus' web/API on the host, e.g. http://127.0.0.1:32771 */
  prometheusUrl: string;
  /** Zipkin's API and UI on the host, e.g. http://127.0.0.1:32772 */
  zipkinUrl: string;
}

/** The host URL of `containerPort` published by the running container of a compose service. */
export async function publishedUrl(docker: Dockerode, project: string, service: string, containerPort: number): Promise<string> {
  const [container] = (await projectContainers(docker, project, service)).filter((c) => c.State.Running);
  if (!container) throw new DiscoveryError(`no running ${service} container in compose project '${project}' (was it deployed?)`);
  const binding = container.NetworkSettings.Ports[`${containerPort}/tcp`]?.[0];
  if (!binding) throw new DiscoveryError(`${service} does not publish port ${containerPort} on the host`);
  const host = binding.HostIp === "" || binding.HostIp === "0.0.0.0" ? "127.0.0.1" : binding.HostIp;
  return `http://${host}:${binding.HostPort}`;
}

export async function observabilityEndpoints(
  docker: Dockerode,
  project: string,
  services: { prometheus?: string; zipkin?: string } = {},
): Promise<ObservabilityEndpoints> {
  const [prometheusUrl, zipkinUrl] = await Promise.all([
    publishedUrl(docker, project, services.prometheus ?? "prometheus", 9090),
    publishedUrl(docker, project, services.zipkin ?? "zipkin", 9411),
  ]);
  return { prometheusUrl, zipkinUrl };
}
