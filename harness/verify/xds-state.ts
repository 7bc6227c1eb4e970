// Before verify sends load in xds mode.
// Design notes: docs/verify.md ("verify/xds-state.ts").
export interface XdsEnvoyState {
  /** Envoy's control_plane.connected_state gauge: 1 connected, 0 not; undefined when absent. */
  connected: number | undefined;
  /** Cluster names from /config_dump: dynamic_active_clusters and dynamic_warming_clusters. */
  active: readonly string[];
  warming: readonly string[];
}

function stream(state: XdsEnvoyState): string {
  if (state.connected === 1) return "Envoy's ADS stream to the control plane is connected";
  if (state.connected === 0) return "Envoy is not connected to its control plane (control_plane.connected_state 0)";
  return "Envoy reports no control-plane connection (no control_plane.connected_state: not an xds bootstrap?)";
}

/** One line per service cluster that is not active; empty when every one is. */
export function xdsClusterProblems(state: XdsEnvoyState, clusters: readonly string[]): string[] {
  return clusters.flatMap((c) => {
    if (state.active.includes(c)) return [];
    if (state.warming.includes(c)) return [`cluster ${c} is warming: Envoy has it from CDS but no endpoints yet (${stream(state)})`];
    return [`cluster ${c} is not in Envoy: no CDS from the control plane (${stream(state)})`];
  });
}
