// The throwaway swarm: `cluster up` makes a manager and workers of Docker-in-Docker nodes, and
// `cluster down` leaves nothing behind. The host's own engine never enters swarm mode.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { docker, ensureDockerEngine } from "../../harness/docker/engine.ts";
import { CLUSTER_LABEL, clusterDown, clusterUp, type ClusterUpResult } from "../../harness/targets/swarm/cluster.ts";
import { testProjectName } from "../support/names.ts";

const name = testProjectName("swarm");
const host = docker();
let up: ClusterUpResult;

const hostSwarmState = async (): Promise<string> =>
  z.object({ Swarm: z.object({ LocalNodeState: z.string() }) }).parse(await host.info()).Swarm.LocalNodeState;

beforeAll(async () => {
  await ensureDockerEngine();
  up = await clusterUp(host, { name, nodes: 3, timeoutMs: 180_000 });
  process.stderr.write(`cluster ${name}: 3 nodes in ${up.seconds.toFixed(1)}s\n`);
}, 900_000);

afterAll(async () => {
  await clusterDown(host, name);
});

describe("cluster up / down", () => {
  it("makes one manager and two workers, all ready, each its own engine", async () => {
    const nodes = z
      .array(
        z.object({
          Description: z.object({ Hostname: z.string() }),
          Status: z.object({ State: z.string() }),
          Spec: z.object({ Role: z.string() }),
        }),
      )
      .parse(await up.cluster.manager.docker.listNodes());
    expect(nodes.map((n) => [n.Description.Hostname, n.Spec.Role, n.Status.State]).sort()).toEqual([
      [`${name}-manager`, "manager", "ready"],
      [`${name}-worker1`, "worker", "ready"],
      [`${name}-worker2`, "worker", "ready"],
    ]);
  });

  it("leaves the host's engine out of swarm mode", async () => {
    expect(await hostSwarmState()).toBe("inactive");
  });

  it("refuses a second cluster of the same name", async () => {
    await expect(clusterUp(host, { name, nodes: 1, timeoutMs: 10_000 })).rejects.toThrow(/already up \(3 nodes\)/);
  });

  it("down removes every container, volume and network, and the host stays out of swarm mode", async () => {
    const r = await clusterDown(host, name);
    expect(r.containers.length).toBe(3);
    expect(r.volumes.length).toBe(3);
    expect(r.networks).toEqual([name]);
    const filters = { label: [`${CLUSTER_LABEL}=${name}`] };
    expect(await host.listContainers({ all: true, filters })).toEqual([]);
    expect(await host.listNetworks({ filters })).toEqual([]);
    expect(z.object({ Volumes: z.array(z.unknown()).nullable() }).parse(await host.listVolumes({ filters })).Volumes ?? []).toEqual([]);
    expect(await hostSwarmState()).toBe("inactive");
  });
});
