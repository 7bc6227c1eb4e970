// What Envoy says about its xDS state (admin /config_dump and stats), for verify in xds mode.
import { EnvoyAdmin } from "../envoy/admin.ts";
import { xdsClusterProblems, type XdsEnvoyState } from "./xds-state.ts";

export async function xdsEnvoyState(admin: EnvoyAdmin): Promise<XdsEnvoyState> {
  const [clusters, stats] = await Promise.all([admin.dynamicClusterNames(), admin.stats("^control_plane\\.connected_state$")]);
  return { connected: stats["control_plane.connected_state"], ...clusters };
}

/** One line per cluster that is warming or missing in Envoy (empty: all active). */
export async function xdsProblems(adminUrl: string, clusters: readonly string[]): Promise<string[]> {
  return xdsClusterProblems(await xdsEnvoyState(new EnvoyAdmin(adminUrl)), clusters);
}
