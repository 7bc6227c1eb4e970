// verify's xds precondition: every service cluster active in Envoy, else each one named with why.
import { describe, expect, it } from "vitest";
import { xdsClusterProblems } from "../../harness/verify/xds-state.ts";

describe("xds cluster state", () => {
  it("passes when every cluster is active", () => {
    expect(xdsClusterProblems({ connected: 1, active: ["service1", "service2", "zipkin"], warming: [] }, ["service1", "service2"])).toEqual(
      [],
    );
  });
  it("names a warming cluster and a missing one, with the state of the ADS stream", () => {
    const problems = xdsClusterProblems({ connected: 1, active: ["service2"], warming: ["service1"] }, [
      "service1",
      "service2",
      "service3",
    ]);
    expect(problems).toEqual([
      "cluster service1 is warming: Envoy has it from CDS but no endpoints yet (Envoy's ADS stream to the control plane is connected)",
      "cluster service3 is not in Envoy: no CDS from the control plane (Envoy's ADS stream to the control plane is connected)",
    ]);
  });
  it("says when Envoy is not connected to a control plane, or has none", () => {
    expect(xdsClusterProblems({ connected: 0, active: [], warming: [] }, ["service1"])[0]).toMatch(
      /not connected to its control plane \(control_plane.connected_state 0\)/,
    );
    expect(xdsClusterProblems({ connected: undefined, active: [], warming: [] }, ["service1"])[0]).toMatch(/not an xds bootstrap/);
  });
});
