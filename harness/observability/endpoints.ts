// Host URLs of the stack's Prometheus and Zipkin, read from Docker like stackEndpoints() reads
// Envoy's: both publish on 127.0.0.1 with ports Docker picks, so the only truth is the container.
import type Dockerode from "dockerode";
import { publishedUrl } from "../stack/discover.ts";

export interface ObservabilityEndpoints {
  /** Prometheus' web/API on the host, e.g. http://127.0.0.1:32771 */
  prometheusUrl: string;
  /** Zipkin's API and UI on the host, e.g. http://127.0.0.1:32772 */
  zipkinUrl: string;
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
