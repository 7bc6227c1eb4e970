// `envoy-pipeline cluster up --nodes N` and `cluster down`: registered by harness/cli.ts.
import { settings } from "../../settings.ts";
import { type Command, InvalidArgumentError } from "commander";
import { log } from "../../lib/log.ts";
import { clusterNameSchema, DEFAULT_CLUSTER } from "./cluster-name.ts";

const nodesArg = (value: string): number => {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 9)
    throw new InvalidArgumentError(`--nodes must be a whole number from 1 to 9, got '${value}'`);
  return Number(value);
};
const nameArg = (value: string): string => {
  const r = clusterNameSchema.safeParse(value);
  if (!r.success) throw new InvalidArgumentError(`--name ${r.error.issues[0]?.message ?? "is invalid"}`);
  return value;
};

// biome-ignore lint/suspicious/noConfusingVoidType: actions return an exit code or nothing at all
type Action = <A extends unknown[]>(fn: (...args: A) => Promise<number | void>) => (...args: A) => Promise<void>;

export function registerClusterCommands(program: Command, action: Action): void {
  const cluster = program
    .command("cluster")
    .description("a throwaway Docker Swarm of Docker-in-Docker nodes on this machine (for --target swarm)");
  cluster
    .command("up")
    .description("start a manager and workers, each its own Docker engine; the host's engine never enters swarm mode")
    .option("--nodes <n>", "nodes in all, the first one the manager", nodesArg, 3)
    .option("--name <name>", "cluster name (also ENVOY_PIPELINE_CLUSTER)", nameArg)
    .option("--wait-timeout <seconds>", "longest a single wait may take", (v: string) => Number(v), 180)
    .action(
      action(async (o: { nodes: number; name?: string; waitTimeout: number }) => {
        const [{ docker, ensureDockerEngine }, { clusterUp }] = await Promise.all([
          import("../../docker/engine.ts"),
          import("./cluster.ts"),
        ]);
        await ensureDockerEngine();
        const name = o.name ?? settings().cluster ?? DEFAULT_CLUSTER;
        const r = await clusterUp(docker(), { name, nodes: o.nodes, timeoutMs: o.waitTimeout * 1000 });
        for (const n of r.cluster.nodes) log.info(`  ${n.name.padEnd(30)} ${n.role.padEnd(8)} ${n.ip}`);
        log.info(
          `cluster ${name}: ${r.cluster.nodes.length} nodes up in ${r.seconds.toFixed(1)}s; manager API tcp://${r.cluster.manager.ip}:2375`,
        );
      }),
    );
  cluster
    .command("down")
    .description("remove the cluster's nodes, their volumes and its network")
    .option("--name <name>", "cluster name (also ENVOY_PIPELINE_CLUSTER)", nameArg)
    .action(
      action(async (o: { name?: string }) => {
        const [{ docker, ensureDockerEngine }, { clusterDown }] = await Promise.all([
          import("../../docker/engine.ts"),
          import("./cluster.ts"),
        ]);
        await ensureDockerEngine();
        const name = o.name ?? settings().cluster ?? DEFAULT_CLUSTER;
        const r = await clusterDown(docker(), name);
        log.info(
          `cluster ${name}: removed ${r.containers.length} nodes, ${r.volumes.length} volumes, ${r.networks.length} networks in ${r.seconds.toFixed(1)}s`,
        );
      }),
    );
}
