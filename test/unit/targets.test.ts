import type Dockerode from "dockerode";
import { describe, expect, it, vi } from "vitest";
import { ConfigError, defaults, type PipelineConfig } from "../../harness/config.ts";
import type { StageContext } from "../../harness/stages/context.ts";
import { applyScale } from "../../harness/stages/scale.ts";
import type { TeardownResult } from "../../harness/stack/teardown.ts";
import { dnsDiscovery } from "../../harness/targets/discovery.ts";
import { discoveryFor, effectiveConfig, selectTarget } from "../../harness/targets/select.ts";
import type { StackSpec, Target } from "../../harness/targets/target.ts";

/** A Docker client with no containers at all, recording what was asked. */
function emptyDocker(): Dockerode & { listContainers: ReturnType<typeof vi.fn> } {
  return { listContainers: vi.fn(async () => []) } as unknown as Dockerode & { listContainers: ReturnType<typeof vi.fn> };
}

const config = (over: Partial<PipelineConfig>): PipelineConfig => ({ ...defaults({}), projectName: "p1", ...over });

describe("effectiveConfig and selectTarget (harness/targets/select.ts): the one place that picks", () => {
  it("refuses xds on a swarm and weights without xds, with the field in the message", async () => {
    await expect(effectiveConfig(config({ target: "swarm", discovery: "xds" }), emptyDocker())).rejects.toThrow(ConfigError);
    await expect(effectiveConfig(config({ target: "swarm", discovery: "xds" }), emptyDocker())).rejects.toThrow(
      /^discovery xds: only with target compose/,
    );
    await expect(effectiveConfig(config({ discovery: "dns", weights: { service1: 2 } }), emptyDocker())).rejects.toThrow(
      /^weights: only with discovery xds/,
    );
  });

  it("keeps dns when the project runs no control plane, having asked Docker for exactly that", async () => {
    const docker = emptyDocker();
    expect((await effectiveConfig(config({}), docker)).discovery).toBe("dns");
    expect(docker.listContainers).toHaveBeenCalledWith({
      all: true,
      filters: { label: ["com.docker.compose.project=p1", "com.docker.compose.service=control-plane"] },
    });
  });

  it("picks the discovery strategy from the config: dns does nothing before a scale, xds drains", async () => {
    const docker = emptyDocker();
    expect(discoveryFor(config({ discovery: "dns" }), docker)).toBe(dnsDiscovery);
    const xds = discoveryFor(config({ discovery: "xds" }), docker);
    expect(xds).not.toBe(dnsDiscovery);
    // Nothing runs, so nothing goes away: the replicas were looked up, and no control plane was needed.
    await xds.beforeScale({ service1: 1 });
    expect(docker.listContainers).toHaveBeenCalledWith({
      all: true,
      filters: { label: ["com.docker.compose.project=p1", "com.docker.compose.service=service1"] },
    });
  });

  it("the compose target finds the stack on this Docker host", async () => {
    const target = await selectTarget(config({}), emptyDocker());
    expect(target.locator.where).toBe("this Docker host");
    expect(await target.locator.exists()).toBe(false);
  });
});

describe("the scale stage does not care which target is behind it", () => {
  function fakeTarget(): Target & { scaled: Record<string, number>[] } {
    const scaled: Record<string, number>[] = [];
    const nothing: TeardownResult = { seconds: 0, containers: [], networks: [], volumes: [], images: [], imagesInUse: [] };
    return {
      scaled,
      locator: {} as Target["locator"],
      up: async () => {},
      scale: async (_spec: StackSpec, target) => {
        scaled.push({ ...target });
      },
      down: async () => nothing,
      downAbsent: async () => {},
    };
  }

  it("hands the target exactly the scale map", async () => {
    const target = fakeTarget();
    await applyScale({ target } as unknown as StageContext, { service1: 3, service2: 0 });
    expect(target.scaled).toEqual([{ service1: 3, service2: 0 }]);
  });

  it("says no to an empty scale map before the target is asked", async () => {
    const target = fakeTarget();
    await expect(applyScale({ target } as unknown as StageContext, {})).rejects.toThrow(/the scale map is empty/);
    expect(target.scaled).toEqual([]);
  });
});
