// The swarm target's stack file, rendered from the same model as the compose stack (same images, environment
// and Envoy configuration), with what a swarm on a kernel without IPVS needs.
// Design notes: docs/swarm.md ("targets/swarm/stack-file.ts").
import { stringify } from "yaml";
import { renameEnvoyUpstreams } from "../../render/dns-names.ts";
import type { StackModel } from "../../render/model.ts";

/** The swarm config holding Envoy's configuration: versioned by content, since configs are immutable. */
export const ENVOY_CONFIG_TARGET = "/etc/envoy/envoy.yaml";

export interface SwarmStackOptions {
  /** Replicas per backend at deploy time (the scale stage then sets the config's scale). */
  initialReplicas: number;
  /** Host ports on the manager for Envoy's listener and admin; 0 lets the engine pick one. */
  listenerPort: number;
  adminPort: number;
  /** Backends deployed with swarm's default virtual IP instead (only to prove verify catches it). */
  vipBackends?: readonly string[];
  /** Name of Envoy's config file next to the stack file. */
  envoyConfigFile: string;
  /** Content hash of that file, in the config's name (a changed file needs a new config). */
  envoyConfigHash: string;
}

const hostPort = (target: number, published: number) => ({
  target,
  ...(published > 0 ? { published } : {}),
  protocol: "tcp",
  mode: "host",
});

/**
 * How long a replica keeps serving after SIGTERM while it fails its health check (the service's
 * SHUTDOWN_GRACE_MS): Envoy keeps a host that left DNS until it fails a health check, so a task
 * that stopped listening at once would still be picked, and refuse or time out, until then. 4 s
 * covers Envoy's health-check interval (2 s) and timeout (1 s); under load Envoy drops the host at
 * its first answer carrying `x-envoy-immediate-health-check-fail`.
 */
export const SHUTDOWN_GRACE_MS = 4000;
/** Swarm's stop timeout: the grace period, the in-flight drain (2.5 s) and the span flush, with room. */
export const STOP_GRACE_PERIOD = "10s";

/** The same health check the compose file gives the services (the image carries it too). */
const serviceHealthcheck = {
  test: ["CMD", "node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"],
  interval: "2s",
  timeout: "2s",
  retries: 3,
  start_period: "10s",
};

/** Envoy's configuration on `tasks.<service>`; a backend deployed with a VIP keeps its service name (the VIP). */
export function swarmEnvoyConfig(model: StackModel, vipBackends: readonly string[] = []): string {
  const names = [...model.backends.map((b) => b.name), model.zipkin.name];
  return renameEnvoyUpstreams(model.envoy.config, names, (n) => (vipBackends.includes(n) ? n : `tasks.${n}`));
}

/** The stack file as an object (`stringify` it for `docker stack deploy -c`). */
export function swarmStack(model: StackModel, opts: SwarmStackOptions): Record<string, unknown> {
  const onManager = { constraints: ["node.role == manager"] };
  // Then Envoy's L4 (tcp_proxy) listeners, one per service, on ports the engine picks.
  const [listener = 8080, admin = 9901, ...l4Ports] = model.envoy.ports;
  const [prometheusPort = 9090] = model.prometheus.ports;
  const configName = `envoy_config_${opts.envoyConfigHash.slice(0, 12)}`;
  const services: Record<string, unknown> = {};
  for (const b of model.backends) {
    services[b.name] = {
      image: b.image,
      environment: { ...b.environment, SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS) },
      healthcheck: serviceHealthcheck,
      stop_grace_period: STOP_GRACE_PERIOD,
      deploy: {
        replicas: opts.initialReplicas,
        endpoint_mode: opts.vipBackends?.includes(b.name) ? "vip" : "dnsrr",
        // A new task is running (and healthy) before an old one stops: no gap in a rolling update.
        update_config: { order: "start-first", parallelism: 1, failure_action: "rollback", monitor: "5s" },
        restart_policy: { condition: "any", delay: "1s" },
      },
    };
  }
  services[model.envoy.name] = {
    image: model.envoy.image,
    configs: [{ source: configName, target: ENVOY_CONFIG_TARGET, mode: 0o444 }],
    ports: [hostPort(listener, opts.listenerPort), hostPort(admin, opts.adminPort), ...l4Ports.map((p) => hostPort(p, 0))],
    stop_grace_period: "3s",
    deploy: { replicas: 1, endpoint_mode: "dnsrr", placement: onManager, restart_policy: { condition: "any", delay: "1s" } },
  };
  services[model.prometheus.name] = {
    image: model.prometheus.image,
    ports: [hostPort(prometheusPort, 0)],
    deploy: { replicas: 1, endpoint_mode: "dnsrr", placement: onManager },
  };
  services[model.zipkin.name] = {
    image: model.zipkin.image,
    environment: model.zipkin.environment,
    ports: [hostPort(model.zipkin.port, 0)],
    deploy: { replicas: 1, endpoint_mode: "dnsrr", placement: onManager },
  };
  return {
    version: "3.8",
    services,
    configs: { [configName]: { file: opts.envoyConfigFile } },
  };
}

export function swarmStackYaml(model: StackModel, opts: SwarmStackOptions): string {
  return `# Generated by envoy-pipeline (harness/targets/swarm/stack-file.ts) for docker stack deploy.\n${stringify(swarmStack(model, opts), { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
