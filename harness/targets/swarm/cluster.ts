// `envoy-pipeline cluster up --nodes N` / `cluster down`.
// Design notes: docs/swarm.md ("targets/swarm/cluster.ts").
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Dockerode from "dockerode";
import { z } from "zod";
import { ConfigError } from "../../config.ts";
import { repoRoot } from "../../lib/paths.ts";
import { dockerBuild } from "../../images/build.ts";
import { inspectImage, planImages } from "../../images/index.ts";
import { mustRun } from "../../docker/exec.ts";
import { log } from "../../lib/log.ts";

export const CLUSTER_LABEL = "envoy-pipeline.cluster";
export const ROLE_LABEL = "envoy-pipeline.cluster.role";
/** The nodes' engine API, on the cluster's private network only. */
export const NODE_API_PORT = 2375;

export interface ClusterNode {
  name: string;
  role: "manager" | "worker";
  /** Address on the cluster network: the host reaches the node's API and published ports there. */
  ip: string;
  docker: Dockerode;
}

export interface Cluster {
  name: string;
  manager: ClusterNode;
  nodes: ClusterNode[];
}

/** Linux capability names by number (capability.h), for the bounding set in /proc/self/status. */
const CAPABILITIES = [
  "CHOWN",
  "DAC_OVERRIDE",
  "DAC_READ_SEARCH",
  "FOWNER",
  "FSETID",
  "KILL",
  "SETGID",
  "SETUID",
  "SETPCAP",
  "LINUX_IMMUTABLE",
  "NET_BIND_SERVICE",
  "NET_BROADCAST",
  "NET_ADMIN",
  "NET_RAW",
  "IPC_LOCK",
  "IPC_OWNER",
  "SYS_MODULE",
  "SYS_RAWIO",
  "SYS_CHROOT",
  "SYS_PTRACE",
  "SYS_PACCT",
  "SYS_ADMIN",
  "SYS_BOOT",
  "SYS_NICE",
  "SYS_RESOURCE",
  "SYS_TIME",
  "SYS_TTY_CONFIG",
  "MKNOD",
  "LEASE",
  "AUDIT_WRITE",
  "AUDIT_CONTROL",
  "SETFCAP",
  "MAC_OVERRIDE",
  "MAC_ADMIN",
  "SYSLOG",
  "WAKE_ALARM",
  "BLOCK_SUSPEND",
  "AUDIT_READ",
  "PERFMON",
  "BPF",
  "CHECKPOINT_RESTORE",
];

/** Capabilities this machine cannot grant a container (absent from our own bounding set). */
export function missingCapabilities(status = readFileSync("/proc/self/status", "utf8")): string[] {
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (!hex) return [];
  const set = BigInt(`0x${hex}`);
  return CAPABILITIES.filter((_, i) => ((set >> BigInt(i)) & 1n) === 0n);
}

const nodeApi = (ip: string): Dockerode => new Dockerode({ host: ip, port: NODE_API_PORT, protocol: "http" });

/** The node image's tag: the base image's plus a hash of images/swarm-node, so edits rebuild it. */
export function nodeImagePlan(root = repoRoot): { tag: string; hash: string; base: string; dir: string } {
  const dir = join(root, "images", "swarm-node");
  const base = planImages({ root }).base.tag;
  const hash = createHash("sha256");
  for (const f of ["Dockerfile", "node-entrypoint.sh"]) hash.update(f).update(readFileSync(join(dir, f)));
  hash.update(base);
  const digest = hash.digest("hex");
  return { tag: `envoy-pipeline/swarm-node:bookworm-${digest.slice(0, 12)}`, hash: digest, base, dir };
}

async function ensureNodeImage(): Promise<string> {
  const plan = nodeImagePlan();
  if (await inspectImage(plan.tag)) return plan.tag;
  if (!(await inspectImage(plan.base)))
    throw new ConfigError(`the base image ${plan.base} is missing: run \`envoy-pipeline prepare --force-local\` first`);
  log.info(`building ${plan.tag} (Debian's docker.io on the local base image)`);
  await dockerBuild(
    {
      name: "swarm-node",
      tag: plan.tag,
      hash: plan.hash,
      contextDir: plan.dir,
      buildArgs: { BASE_IMAGE: plan.base },
      logsDir: join(repoRoot, ".envoy-pipeline", "logs"),
    },
    (line) => log.info(`  ${line}`),
  );
  return plan.tag;
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs` with the last error. */
async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message.split("\n")[0] ?? "";
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)}s waiting for ${what}${last ? ` (last: ${last})` : ""}`);
    await sleep(500);
  }
}

const containerIp = (info: Dockerode.ContainerInspectInfo, network: string): string =>
  info.NetworkSettings.Networks[network]?.IPAddress ?? "";

/** The running cluster `name`, found by its labels; null when it has no manager. */
export async function findCluster(host: Dockerode, name: string): Promise<Cluster | null> {
  const list = await host.listContainers({ filters: { label: [`${CLUSTER_LABEL}=${name}`], status: ["running"] } });
  const nodes: ClusterNode[] = [];
  for (const c of list) {
    const info = await host.getContainer(c.Id).inspect();
    const ip = containerIp(info, name);
    const role = info.Config.Labels[ROLE_LABEL] === "manager" ? "manager" : "worker";
    nodes.push({ name: info.Name.replace(/^\//, ""), role, ip, docker: nodeApi(ip) });
  }
  nodes.sort((a, b) => a.name.localeCompare(b.name));
  const manager = nodes.find((n) => n.role === "manager");
  return manager ? { name, manager, nodes } : null;
}

export interface ClusterUpResult {
  cluster: Cluster;
  seconds: number;
}

export async function clusterUp(host: Dockerode, opts: { name: string; nodes: number; timeoutMs: number }): Promise<ClusterUpResult> {
  const t0 = Date.now();
  if (opts.nodes < 1 || opts.nodes > 9) throw new ConfigError(`--nodes must be from 1 to 9, got ${opts.nodes}`);
  const existing = await findCluster(host, opts.name);
  if (existing)
    throw new ConfigError(
      `cluster ${opts.name} is already up (${existing.nodes.length} nodes): \`envoy-pipeline cluster down --name ${opts.name}\` first`,
    );
  const image = await ensureNodeImage();
  const labels = { [CLUSTER_LABEL]: opts.name };
  try {
    await host.createNetwork({ Name: opts.name, Driver: "bridge", Labels: labels, CheckDuplicate: true });
    for (let i = 0; i < opts.nodes; i++) {
      const name = `${opts.name}-${i === 0 ? "manager" : `worker${i}`}`;
      const volume = `${name}-docker`;
      await host.createVolume({ Name: volume, Labels: labels });
      const c = await host.createContainer({
        name,
        Image: image,
        Hostname: name,
        Labels: { ...labels, [ROLE_LABEL]: i === 0 ? "manager" : "worker" },
        HostConfig: {
          // What dockerd needs (cgroups, iptables, overlay mounts): every capability and no
          // seccomp/AppArmor confinement, as --privileged gives. Not --privileged itself: it asks
          // for every capability, and on a host whose own bounding set lacks one (CAP_SYS_RESOURCE
          // on this project's CI machines) the engine fails with "unable to apply caps: operation
          // not permitted". The node's entry point remounts /sys and the cgroups writable.
          CapAdd: ["ALL"],
          CapDrop: missingCapabilities(),
          SecurityOpt: ["seccomp=unconfined", "apparmor=unconfined"],
          // --security-opt systempaths=unconfined: /proc and /sys unmasked.
          MaskedPaths: [],
          ReadonlyPaths: [],
          NetworkMode: opts.name,
          Binds: [`${volume}:/var/lib/docker`],
          Init: false,
        },
      });
      await c.start();
    }
    const cluster = await findCluster(host, opts.name);
    if (!cluster) throw new Error(`cluster ${opts.name}: the manager did not start`);
    await Promise.all(
      cluster.nodes.map((n) => until(`the engine of ${n.name}`, opts.timeoutMs, async () => ((await n.docker.ping()) ? true : undefined))),
    );
    // Swarm mode: only ever inside the manager node's engine.
    await cluster.manager.docker.swarmInit({ ListenAddr: `0.0.0.0:2377`, AdvertiseAddr: cluster.manager.ip });
    const swarm = z.object({ JoinTokens: z.object({ Worker: z.string() }) }).parse(await cluster.manager.docker.swarmInspect());
    for (const n of cluster.nodes.filter((x) => x.role === "worker")) {
      await n.docker.swarmJoin({
        ListenAddr: "0.0.0.0:2377",
        AdvertiseAddr: n.ip,
        RemoteAddrs: [`${cluster.manager.ip}:2377`],
        JoinToken: swarm.JoinTokens.Worker,
      });
    }
    await until(`${opts.nodes} ready swarm nodes`, opts.timeoutMs, async () => {
      const nodes = z.array(z.object({ Status: z.object({ State: z.string() }) })).parse(await cluster.manager.docker.listNodes());
      return nodes.length === opts.nodes && nodes.every((n) => n.Status.State === "ready") ? true : undefined;
    });
    return { cluster, seconds: (Date.now() - t0) / 1000 };
  } catch (err) {
    await clusterDown(host, opts.name).catch(() => undefined);
    throw err;
  }
}

export interface ClusterDownResult {
  containers: string[];
  volumes: string[];
  networks: string[];
  seconds: number;
}

const gone = (err: unknown): boolean =>
  typeof err === "object" && err !== null && "statusCode" in err && (err as { statusCode: number }).statusCode === 404;

/** Removes the cluster's node containers, their volumes (images and swarm state) and its network. */
export async function clusterDown(host: Dockerode, name: string): Promise<ClusterDownResult> {
  const t0 = Date.now();
  const filters = { label: [`${CLUSTER_LABEL}=${name}`] };
  const result: ClusterDownResult = { containers: [], volumes: [], networks: [], seconds: 0 };
  for (const c of await host.listContainers({ all: true, filters })) {
    await host
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch((err: unknown) => {
        if (!gone(err)) throw err;
      });
    result.containers.push((c.Names[0] ?? c.Id).replace(/^\//, ""));
  }
  const volumes = z.object({ Volumes: z.array(z.object({ Name: z.string() })).nullable() }).parse(await host.listVolumes({ filters }));
  for (const v of volumes.Volumes ?? []) {
    await host
      .getVolume(v.Name)
      .remove()
      .catch((err: unknown) => {
        if (!gone(err)) throw err;
      });
    result.volumes.push(v.Name);
  }
  for (const n of await host.listNetworks({ filters })) {
    await host
      .getNetwork(n.Id)
      .remove()
      .catch((err: unknown) => {
        if (!gone(err)) throw err;
      });
    result.networks.push(n.Name);
  }
  result.seconds = (Date.now() - t0) / 1000;
  return result;
}

/**
 * Copies images from the host's engine into nodes (`docker save` | `docker load`): nodes without an
 * image reject its tasks ("No such image", moby#31169), and there is no registry to pull from.
 */
export async function loadImages(nodes: readonly ClusterNode[], refs: readonly string[]): Promise<void> {
  await Promise.all(
    nodes.map(async (node) => {
      // Only what the node lacks: a redeploy of the same images copies nothing.
      const has = await Promise.all(
        refs.map((ref) =>
          node.docker
            .getImage(ref)
            .inspect()
            .then(
              () => true,
              () => false,
            ),
        ),
      );
      const missing = refs.filter((_, i) => !has[i]);
      if (missing.length === 0) return;
      await mustRun(
        "bash",
        ["-o", "pipefail", "-c", 'docker save "$@" | docker -H "tcp://$NODE:2375" load -q >/dev/null', "load", ...missing],
        {
          env: { ...process.env, NODE: node.ip },
          what: `copying ${missing.join(", ")} into ${node.name}`,
        },
      );
    }),
  );
}
