// The control plane's inputs, without Docker: Docker's event stream, replica health, the CLI's
// options, the scale-down's choice of replicas, and the discovery key of the pipeline's config.
import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig, parseAssignments } from "../../harness/config.ts";
import { configuredWeights } from "../../harness/xds/weights.ts";
import { composeFiles, XDS_COMPOSE_FILE } from "../../harness/stack/compose-cli.ts";
import { frontProxySpec, parseControlPlaneOptions } from "../../harness/xds/cli.ts";
import { endpointHealth, parseEventLines } from "../../harness/xds/docker-source.ts";
import { surplus } from "../../harness/xds/drain.ts";
import type { ReplicaContainer } from "../../harness/stack/discover.ts";

describe("docker events", () => {
  it("splits the stream into events, keeps a partial line for later and reports what is not an event", () => {
    const start = JSON.stringify({
      Type: "container",
      Action: "start",
      Actor: { ID: "abc", Attributes: { "com.docker.compose.service": "service1" } },
      timeNano: 1,
    });
    const health = JSON.stringify({ Type: "container", Action: "health_status: healthy", Actor: { ID: "abc", Attributes: {} } });
    const { events, rest, errors } = parseEventLines(`${start}\n${health}\n{"Type":"network"}\nnot json\n{"Type":"cont`);
    expect(events.map((e) => e.Action)).toEqual(["start", "health_status: healthy"]);
    expect(rest).toBe('{"Type":"cont');
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/unexpected event: Type/);
    expect(errors[1]).toMatch(/not JSON/);
  });

  it("only a running, unpaused container whose health check passes (or that has none) is HEALTHY; told to stop is DRAINING", () => {
    expect(endpointHealth({ running: true, paused: false, health: "healthy" }, false)).toBe("HEALTHY");
    expect(endpointHealth({ running: true, paused: false, health: undefined }, false)).toBe("HEALTHY");
    expect(endpointHealth({ running: true, paused: false, health: "starting" }, false)).toBe("UNHEALTHY");
    expect(endpointHealth({ running: true, paused: false, health: "unhealthy" }, false)).toBe("UNHEALTHY");
    expect(endpointHealth({ running: true, paused: true, health: "healthy" }, false)).toBe("UNHEALTHY");
    expect(endpointHealth({ running: true, paused: false, health: "healthy" }, true)).toBe("DRAINING");
  });
});

describe("scale-down", () => {
  const replica = (number: number): ReplicaContainer => ({
    name: `p-service1-${number}`,
    hostname: `h${number}`,
    ip: `10.0.0.${number}`,
    service: "service1",
    number,
    health: "healthy",
  });
  it("drains the highest-numbered replicas, as many as go away, and none on a scale-up", () => {
    const running = [replica(1), replica(3), replica(2)];
    expect(surplus(running, 1).map((r) => r.number)).toEqual([3, 2]);
    expect(surplus(running, 3)).toEqual([]);
    expect(surplus(running, 5)).toEqual([]);
    expect(surplus(running, 0).map((r) => r.number)).toEqual([3, 2, 1]);
  });
});

describe("envoy-pipeline control-plane options", () => {
  it("defaults to the stack's ports and services, with the project from COMPOSE_PROJECT_NAME", () => {
    const o = parseControlPlaneOptions({}, { COMPOSE_PROJECT_NAME: "demo" });
    expect(o).toMatchObject({
      project: "demo",
      services: ["service1", "service2"],
      grpcPort: 18000,
      adminPort: 18001,
      zipkin: "zipkin:9411",
    });
    const spec = frontProxySpec(o);
    // Each service with its L4 listener on the stack's port, as in envoy/envoy.yaml.
    expect(spec.services.map((s) => [s.cluster, s.path, s.tcpPort])).toEqual([
      ["service1", "/service/1", 8081],
      ["service2", "/service/2", 8082],
    ]);
    expect(spec.zipkin).toEqual({ host: "zipkin", port: 9411 });
  });

  it("weights from --weight or XDS_WEIGHTS; tcp_proxy ports per service", () => {
    const o = parseControlPlaneOptions(
      { project: "demo", weight: ["service1=3", "demo-service2-1=2"], tcpPort: ["service1=9001"], zipkin: "none" },
      {},
    );
    expect(o.weights).toEqual({ service1: 3, "demo-service2-1": 2 });
    expect(frontProxySpec(o).services[0]).toEqual({
      cluster: "service1",
      path: "/service/1",
      tcpPort: 9001,
      grpc: { port: 50051, tcpPort: 50051 },
    });
    expect(frontProxySpec(o).services[1]).toEqual({
      cluster: "service2",
      path: "/service/2",
      tcpPort: 8082,
      grpc: { port: 50051, tcpPort: 50052 },
    });
    expect(frontProxySpec(o).zipkin).toBeUndefined();
    expect(parseControlPlaneOptions({}, { COMPOSE_PROJECT_NAME: "demo", XDS_WEIGHTS: "service2=4" }).weights).toEqual({ service2: 4 });
  });

  it("rejects bad input with one line naming the field", () => {
    expect(() => parseControlPlaneOptions({}, {})).toThrow(/--project \(or COMPOSE_PROJECT_NAME\) is required/);
    expect(() => parseControlPlaneOptions({ project: "Bad Name" }, {})).toThrow(ConfigError);
    expect(() => parseControlPlaneOptions({ project: "p", grpcPort: "http" }, {})).toThrow(/grpcPort/);
    expect(() => parseControlPlaneOptions({ project: "p", services: "web" }, {})).toThrow(/services\.0: must be a routed service name/);
    expect(() => parseControlPlaneOptions({ project: "p", lbPolicy: "MAGLEV" }, {})).toThrow(/lbPolicy/);
    expect(() => parseControlPlaneOptions({ project: "p", weight: ["service1=0"] }, {})).toThrow(/weights\.service1/);
    expect(() => parseControlPlaneOptions({ project: "p", zipkin: "zipkin" }, {})).toThrow(/zipkin: must be HOST:PORT or none/);
  });
});

describe("weights", () => {
  const r = (name: string, hostname: string): ReplicaContainer => ({
    name,
    hostname,
    ip: "10.0.0.1",
    service: "service1",
    number: 1,
    health: "healthy",
  });
  it("a container's own weight, else its service's; verify expects them by hostname, uniform without any", () => {
    const replicas = [r("p-service1-1", "h1"), r("p-service1-2", "h2")];
    expect(configuredWeights({}, replicas)).toBe("uniform");
    expect(configuredWeights({ service2: 5 }, replicas)).toBe("uniform");
    expect(configuredWeights({ "p-service1-2": 3 }, replicas)).toEqual({ h1: 1, h2: 3 });
    expect(configuredWeights({ service1: 2, "p-service1-1": 4 }, replicas)).toEqual({ h1: 4, h2: 2 });
  });
  it("come from the config as a map and from --weight as NAME=WEIGHT; bad ones are refused by name", () => {
    expect(
      loadConfig({ env: {}, cli: { discovery: "xds", weights: parseAssignments("weight", ["service1=3", "p-service2-1=2"]) } }).weights,
    ).toEqual({ service1: 3, "p-service2-1": 2 });
    expect(() => parseAssignments("weight", ["service1"])).toThrow("weight: 'service1' is not NAME=NUMBER");
    expect(() => loadConfig({ env: {}, cli: { weights: { service1: 0 } } })).toThrow(/weights\.service1: Too small/);
  });
});

describe("discovery in the pipeline's configuration", () => {
  it("is dns by default; xds from a flag, the environment or a file; anything else is refused by name", () => {
    expect(loadConfig({ env: {} }).discovery).toBe("dns");
    expect(loadConfig({ env: { ENVOY_PIPELINE_DISCOVERY: "xds" } }).discovery).toBe("xds");
    expect(loadConfig({ env: {}, cli: { discovery: "xds" } }).discovery).toBe("xds");
    const dir = mkdtempSync(join(tmpdir(), "xds-config-"));
    writeFileSync(join(dir, "c.json"), JSON.stringify({ discovery: "xds" }));
    expect(loadConfig({ env: {}, file: join(dir, "c.json") }).discovery).toBe("xds");
    expect(() => loadConfig({ env: {}, cli: { discovery: "consul" as "dns" } })).toThrow(/invalid configuration: discovery:/);
  });

  it("xds layers docker-compose.xds.yml over the compose file, before the configured overrides", () => {
    const dns = loadConfig({ env: {} });
    expect(composeFiles(dns)).toEqual(["docker-compose.yml"]);
    const xds = composeFiles({ ...dns, discovery: "xds" });
    expect(xds[0]).toBe("docker-compose.yml");
    expect(xds[1]).toMatch(new RegExp(`/${XDS_COMPOSE_FILE.replace(".", "\\.")}$`));
    const dir = mkdtempSync(join(tmpdir(), "xds-compose-"));
    writeFileSync(join(dir, "docker-compose.yml"), "services: {}\n");
    expect(() => composeFiles({ ...dns, composeFile: join(dir, "docker-compose.yml"), discovery: "xds" })).toThrow(
      /needs docker-compose\.xds\.yml beside/,
    );
  });
});
