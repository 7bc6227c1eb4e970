// Phase "layers": per service, L4 connections through Envoy's tcp_proxy listener beside the load's
// L7 connection. Its requests bypass Envoy's HTTP listener, so it runs after the metrics windows.
import { log } from "../../lib/log.ts";
import type { ServiceState } from "../../stack/desired-state.ts";
import type { StackEndpoints } from "../../stack/discover.ts";
import { routeFor } from "../../stack/routes.ts";
import { l4ConnectionsFor, layersResult, probeL4 } from "../layers.ts";
import type { VerifyReport } from "../schema.ts";
import type { LayersVerdict } from "./verdicts.ts";

async function layersOf(report: VerifyReport, endpoints: StackEndpoints, state: ServiceState): Promise<LayersVerdict | undefined> {
  const service = report.services.find((s) => s.service === state.service);
  if (!service || service.requests.sent === 0) return undefined;
  const route = routeFor(state.service);
  const url = endpoints.l4Urls?.[state.service];
  const l4 = url
    ? {
        url,
        probe: await probeL4({
          l4Url: url,
          path: route.path,
          serviceId: route.id,
          connections: l4ConnectionsFor(state.serving.length),
          requestsPerConnection: 4,
        }),
      }
    : { missing: `front-envoy publishes no L4 listener for ${state.service} (container port ${route.tcpPort})` };
  const { check, report: layers } = layersResult(l4, service.perRequest, state.serving);
  log.info(`  ${check.passed ? "PASS" : "FAIL"} ${state.service} layers: ${check.reason}`);
  return { service: state.service, check, ...(layers ? { layers } : {}) };
}

/** The layers verdict of every service the load reached. */
export async function layersPhase(
  report: VerifyReport,
  endpoints: StackEndpoints,
  states: readonly ServiceState[],
): Promise<LayersVerdict[]> {
  const verdicts = await Promise.all(states.map((state) => layersOf(report, endpoints, state)));
  return verdicts.filter((v): v is LayersVerdict => v !== undefined);
}
