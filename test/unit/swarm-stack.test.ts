// The swarm target without a swarm: the stack file it deploys and the replicas it reads back from
// the task list, on task data shaped as Docker 20.10's /tasks answers.
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repoRoot } from "../../harness/lib/paths.ts";
import { readStackModel } from "../../harness/render/model.ts";
import { SHUTDOWN_GRACE_MS, swarmEnvoyConfig, swarmStack, type SwarmStackOptions } from "../../harness/targets/swarm/stack-file.ts";
import { dockerHostAddress } from "../../harness/targets/swarm/connection.ts";
import { parseTasks, publishedUrl, replicasFromTasks } from "../../harness/targets/swarm/tasks.ts";

const model = readStackModel({
  composeFile: resolve(repoRoot, "docker-compose.yml"),
  scale: { service1: 3, service2: 3 },
  imageTag: "run7",
});
const opts = {
  initialReplicas: 1,
  listenerPort: 0,
  adminPort: 0,
  envoyConfigFile: "envoy-swarm.yaml",
  envoyConfigHash: "abcdef0123456789",
};
type Svc = {
  image: string;
  build?: unknown;
  ports?: Array<{ mode: string; target: number; published?: number }>;
  deploy: { endpoint_mode: string; replicas: number; update_config?: { order: string }; placement?: unknown };
  configs?: Array<{ source: string; target: string }>;
};
const services = (o: SwarmStackOptions = opts): Record<string, Svc> => swarmStack(model, o).services as Record<string, Svc>;

describe("swarm stack file", () => {
  it("deploys the compose stack's images, every service dnsrr, nothing built", () => {
    const s = services();
    expect(Object.keys(s)).toEqual(["service1", "service2", "front-envoy", "prometheus", "zipkin"]);
    for (const [name, svc] of Object.entries(s)) {
      expect(svc.deploy.endpoint_mode, name).toBe("dnsrr");
      expect(svc.build, name).toBeUndefined();
    }
    expect(s.service1?.image).toBe("envoy-pipeline/service:run7");
    expect(s["front-envoy"]?.image).toBe("envoy-pipeline/front-envoy:run7");
    expect(s.service1?.deploy.update_config?.order).toBe("start-first");
  });

  it("lets a stopping replica drain: it keeps serving for the grace period, which swarm's stop timeout covers", () => {
    const s = swarmStack(model, opts).services as Record<string, { environment?: Record<string, string>; stop_grace_period?: string }>;
    for (const name of ["service1", "service2"]) {
      expect(s[name]?.environment?.SHUTDOWN_GRACE_MS, name).toBe(String(SHUTDOWN_GRACE_MS));
      // Grace, then up to 2.5 s for requests in flight and 0.4 s for the span flush, before SIGKILL.
      expect(Number.parseInt(s[name]?.stop_grace_period ?? "0", 10) * 1000).toBeGreaterThan(SHUTDOWN_GRACE_MS + 2900);
    }
  });

  it("publishes Envoy in host mode on a manager, with envoy.yaml on tasks.<service> mounted as a config", () => {
    const envoy = services({ ...opts, listenerPort: 18080 })["front-envoy"];
    expect(envoy?.ports).toEqual([
      { target: 8080, published: 18080, protocol: "tcp", mode: "host" },
      { target: 9901, protocol: "tcp", mode: "host" },
      // Envoy's L4 (tcp_proxy) listeners, one per service, on ports the engine picks.
      { target: 8081, protocol: "tcp", mode: "host" },
      { target: 8082, protocol: "tcp", mode: "host" },
      // The L4 listeners to the gRPC clusters (docs/grpc.md).
      { target: 50051, protocol: "tcp", mode: "host" },
      { target: 50052, protocol: "tcp", mode: "host" },
    ]);
    expect(envoy?.deploy.placement).toEqual({ constraints: ["node.role == manager"] });
    expect(envoy?.configs).toEqual([{ source: "envoy_config_abcdef012345", target: "/etc/envoy/envoy.yaml", mode: 0o444 }]);
    const config = swarmEnvoyConfig(model);
    expect(config).toContain("address: tasks.service1,");
    expect(config).toContain("address: tasks.zipkin,");
    // Apart from the names, Envoy's configuration is the compose stack's.
    expect(parse(config.replace(/tasks\./g, ""))).toEqual(parse(model.envoy.config));
  });

  it("can deploy a backend with a virtual IP, to prove verify catches it", () => {
    expect(services({ ...opts, vipBackends: ["service2"] }).service2?.deploy.endpoint_mode).toBe("vip");
  });
});

const task = (
  id: string,
  slot: number,
  state: string,
  container: string | undefined,
  ip: string,
  ports?: Array<{ TargetPort: number; PublishedPort: number; PublishMode: string }>,
) => ({
  ID: id,
  Slot: slot,
  NodeID: "node1",
  DesiredState: state === "shutdown" ? "shutdown" : "running",
  Status: {
    State: state,
    ContainerStatus: container ? { ContainerID: container } : {},
    ...(ports ? { PortStatus: { Ports: ports } } : {}),
  },
  NetworksAttachments: [
    { Network: { Spec: { Name: "ingress" } }, Addresses: ["10.0.0.9/24"] },
    { Network: { Spec: { Name: "st_default" } }, Addresses: [`${ip}/24`] },
  ],
});

describe("swarm replicas from the task list", () => {
  it("gives running tasks in slot order, with the container's hostname and the stack network's address", () => {
    const tasks = parseTasks([
      task("t2", 2, "running", "bbbbbbbbbbbb1111", "10.0.1.5"),
      task("t1", 1, "running", "aaaaaaaaaaaa2222", "10.0.1.4"),
      task("t3", 3, "starting", "cccccccccccc3333", "10.0.1.6"),
      task("t0", 1, "shutdown", "dddddddddddd4444", "10.0.1.3"),
    ]);
    expect(replicasFromTasks(tasks, "st", "service1")).toEqual([
      { name: "st_service1.1.t1", hostname: "aaaaaaaaaaaa", ip: "10.0.1.4", service: "service1", number: 1, health: "healthy" },
      { name: "st_service1.2.t2", hostname: "bbbbbbbbbbbb", ip: "10.0.1.5", service: "service1", number: 2, health: "healthy" },
    ]);
  });

  it("says what is wrong with a malformed task or one without an address", () => {
    expect(() => parseTasks([{ ID: "x" }])).toThrow(/swarm task list: unexpected shape: 0\.DesiredState/);
    const lonely = parseTasks([{ ...task("t9", 1, "running", "eeeeeeeeeeee", "10.0.1.9"), NetworksAttachments: [] }]);
    expect(() => replicasFromTasks(lonely, "st", "service1")).toThrow(/task t9 of st_service1 has no address on st_default/);
  });

  it("finds Envoy's host-mode ports on the manager", () => {
    const tasks = parseTasks([
      task("e1", 1, "running", "ffffffffffff", "10.0.1.2", [
        { TargetPort: 8080, PublishedPort: 30001, PublishMode: "host" },
        { TargetPort: 9901, PublishedPort: 30002, PublishMode: "host" },
      ]),
    ]);
    expect(publishedUrl(tasks, 9901, "172.18.0.2", "st_front-envoy")).toBe("http://172.18.0.2:30002");
    expect(() => publishedUrl(tasks, 9090, "172.18.0.2", "st_front-envoy")).toThrow(/no running task publishes port 9090/);
  });
});

describe("which swarm", () => {
  it("reaches a DOCKER_HOST manager's host-mode ports on its host", () => {
    expect(dockerHostAddress("tcp://10.1.2.3:2376")).toBe("10.1.2.3");
    expect(dockerHostAddress("ssh://ci@swarm-manager.example")).toBe("swarm-manager.example");
    expect(dockerHostAddress("unix:///var/run/docker.sock")).toBe("127.0.0.1");
  });
});
