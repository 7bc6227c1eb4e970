// `envoy-pipeline <stage>`: the same stages the Jenkinsfile runs, from a terminal or CI.
// Importing this module has no effect (tests import buildProgram): it parses process.argv only
// when started as the CLI (see startedAsCli at the end).
import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import { z } from "zod";
import { ConfigError, layerFromEnv, loadConfig, parseAssignments, parseScale, type ConfigLayer, type PipelineConfig } from "./config.ts";
import { collect } from "./lib/cli-options.ts";
import { exitCodeOf } from "./lib/errors.ts";
import { repoRoot } from "./lib/paths.ts";
import { log } from "./lib/log.ts";
import { settings } from "./settings.ts";
import { stageDefaultProject } from "./stack/project.ts";
import { registerInitCommand } from "./stackfile/cli.ts";
import { registerRenderCommands } from "./targets/k8s/cli.ts";
import { registerClusterCommands } from "./targets/swarm/cli.ts";
import { registerWebhookCommands } from "./webhook/cli.ts";
import { registerControlPlaneCommand } from "./xds/cli.ts";

const integer =
  (name: string) =>
  (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number, got '${value}'`);
    return Number(value);
  };

const percent =
  (name: string) =>
  (value: string): number => {
    const n = integer(name)(value);
    if (n > 100) throw new InvalidArgumentError(`${name} must be a whole percentage from 0 to 100, got '${value}'`);
    return n;
  };

export interface StageOptions {
  config?: string;
  composeFile?: string;
  project?: string;
  target?: PipelineConfig["target"];
  waitTimeout?: number;
  scale?: string[];
  listenerPort?: number;
  adminPort?: number;
  requests?: number;
  concurrency?: number;
  tracingSampling?: number;
  reportDir?: string;
  keep?: boolean;
  removeImages?: boolean;
  json?: boolean;
  forceLocal?: boolean;
  discovery?: string;
  weight?: string[];
  provision?: boolean;
  stale?: boolean;
  olderThan?: string;
  match?: string;
}

/** CLI flags as the last configuration layer (only the flags actually given). */
export function cliLayer(o: StageOptions): ConfigLayer {
  const layer: ConfigLayer = {};
  if (o.composeFile !== undefined) layer.composeFile = o.composeFile;
  if (o.project !== undefined) layer.projectName = o.project;
  if (o.target !== undefined) layer.target = o.target;
  if (o.waitTimeout !== undefined) layer.waitTimeoutSeconds = o.waitTimeout;
  if (o.scale !== undefined) layer.scale = parseScale(o.scale);
  if (o.listenerPort !== undefined || o.adminPort !== undefined) {
    layer.ports = {};
    if (o.listenerPort !== undefined) layer.ports.listener = o.listenerPort;
    if (o.adminPort !== undefined) layer.ports.admin = o.adminPort;
  }
  if (o.requests !== undefined || o.concurrency !== undefined) {
    layer.verify = {};
    if (o.requests !== undefined) layer.verify.requests = o.requests;
    if (o.concurrency !== undefined) layer.verify.concurrency = o.concurrency;
  }
  if (o.tracingSampling !== undefined) layer.tracing = { sampling: o.tracingSampling };
  if (o.reportDir !== undefined) layer.reportDir = o.reportDir;
  if (o.keep !== undefined) layer.keep = o.keep;
  if (o.removeImages !== undefined) layer.removeImages = o.removeImages;
  if (o.discovery !== undefined) layer.discovery = o.discovery as PipelineConfig["discovery"];
  if (o.weight !== undefined) layer.weights = parseAssignments("weight", o.weight);
  return layer;
}

/**
 * The configuration of a stage. Single stages share the checkout's stack by default (like compose
 * commands share a project: harness/stack/project.ts); `pipeline` keeps a project per run.
 */
function configFrom(o: StageOptions, projectPerRun = false): PipelineConfig {
  return loadConfig({
    ...(o.config !== undefined ? { file: o.config } : {}),
    cli: cliLayer(o),
    ...(projectPerRun ? {} : { projectDefault: (folder: string) => stageDefaultProject(folder) }),
  });
}

/** Options every stage accepts. */
function stageCommand(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .option("--config <file>", "JSON config file (also ENVOY_PIPELINE_CONFIG)")
    .option("--compose-file <path>", "compose file of the stack")
    .option("--project <name>", "compose project name (default: from BUILD_TAG, else this checkout's; pipeline: unique per run)")
    .addOption(
      new Option(
        "--target <target>",
        "where the stack runs: compose (one engine) or swarm (DOCKER_HOST's swarm, else `cluster up`'s)",
      ).choices(["compose", "swarm"]),
    )
    .option("--wait-timeout <seconds>", "longest a single wait may take", integer("--wait-timeout"));
}

const scaleOption = () =>
  new Option("--scale <service=replicas>", "replicas per service, repeatable or comma-separated (default service1=3,service2=3)").argParser(
    collect,
  );
const portOptions = (cmd: Command): Command =>
  cmd
    .option("--discovery <mode>", "how Envoy finds the replicas: dns (STRICT_DNS) or xds (the control plane, over ADS) (default dns)")
    .option("--weight <name=weight>", "xds: load-balancing weight of a container or of a service's replicas, repeatable", collect)
    .option("--listener-port <n>", "host port for Envoy's listener on 127.0.0.1 (default: a free one)", integer("--listener-port"))
    .option("--admin-port <n>", "host port for Envoy's admin on 127.0.0.1 (default: a free one)", integer("--admin-port"))
    .option(
      "--tracing-sampling <percent>",
      "percent of requests Envoy traces (default 1; also ENVOY_PIPELINE_TRACING_SAMPLING)",
      percent("--tracing-sampling"),
    );
const verifyOptions = (cmd: Command): Command =>
  cmd
    .option("--requests <n>", "requests per service (default: sized from the statistics)", integer("--requests"))
    .option("--concurrency <n>", "requests in flight (and connections to Envoy)", integer("--concurrency"))
    .option("--report-dir <dir>", "where verify.json, junit.xml and verify.html are written");

/** The version in package.json, which `--version` prints. */
export function packageVersion(): string {
  const pkg = z.object({ version: z.string() }).parse(JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")));
  return pkg.version;
}

/** Errors that are the program's own fault: shown with their stack, since no message can help. */
const INTERNAL_ERRORS = [TypeError, ReferenceError, RangeError, SyntaxError];

/**
 * Runs an action, turning errors into one clear line and an exit code: 2 for bad input (config,
 * flags, verify's inputs), 1 for everything else. A stack trace only for internal errors, or with
 * ENVOY_PIPELINE_DEBUG=1.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: actions return an exit code or nothing at all
function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      process.exitCode = code ?? 0;
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      const internal = INTERNAL_ERRORS.some((t) => e instanceof t);
      log.info(`error: ${internal || settings().debug ? (e.stack ?? e.message) : e.message}`);
      process.exitCode = exitCodeOf(e);
    }
  };
}

/** `teardown --stale [--older-than <age>]`: for a cron line or a periodic Jenkins job. */
async function teardownStale(o: StageOptions): Promise<number> {
  const [{ docker: dockerClient, requireDockerEngine }, { ownedStacks, parseAge, staleReason }, { teardown }] = await Promise.all([
    import("./docker/engine.ts"),
    import("./stack/stacks.ts"),
    import("./stack/teardown.ts"),
  ]);
  const olderThan = o.olderThan === undefined ? null : parseAge(o.olderThan);
  if (olderThan !== null && Number.isNaN(olderThan))
    throw new ConfigError(`--older-than: '${o.olderThan}' is not an age like 2h, 30m, 90s, 1d`);
  await requireDockerEngine();
  const docker = dockerClient();
  let removed = 0;
  for (const stack of await ownedStacks(docker)) {
    if (o.match !== undefined && !stack.project.startsWith(o.match)) continue;
    const why = staleReason(stack, olderThan);
    if (why === null) continue;
    const r = await teardown(docker, stack.project);
    log.info(`removed stale stack ${stack.project} (${why}): ${r.containers.length} containers, ${r.networks.length} networks`);
    removed++;
  }
  log.info(`teardown --stale: ${removed} stale stack(s) removed`);
  return 0;
}

/** `teardown`: the stack on its target, and what was built for it on this host. */
async function teardownCommand(config: PipelineConfig): Promise<number> {
  const [{ docker: dockerClient, requireDockerEngine }, { selectTarget }] = await Promise.all([
    import("./docker/engine.ts"),
    import("./targets/select.ts"),
  ]);
  await requireDockerEngine();
  const target = await selectTarget(config, dockerClient());
  if (!(await target.locator.exists())) {
    // Like `docker compose down`: nothing to remove is not a failure (Jenkins' post steps run it whatever happened).
    log.info(`teardown: no stack '${config.projectName}' on ${target.locator.where}: nothing to remove`);
    await target.downAbsent();
    return 0;
  }
  const r = await target.down();
  const services = r.services ? `${r.services.length} services on ${target.locator.where}, ` : "";
  log.info(
    `removed ${services}${r.containers.length} containers, ${r.networks.length} networks, ${r.volumes.length} volumes, ${r.images.length} image tags of ${config.projectName} in ${r.seconds.toFixed(1)}s` +
      (r.imagesInUse.length > 0 ? ` (kept ${r.imagesInUse.join(", ")}: in use by another stack)` : ""),
  );
  return 0;
}

/** prepare, build, deploy, scale: from nothing to a stack that answers with the replicas asked for. */
function registerStackCommands(program: Command): void {
  stageCommand(program, "prepare", "make sure every image the stack needs exists locally (pull, or build air-gapped equivalents)")
    .option("--force-local", "build the local equivalents even when a registry is reachable")
    .option("--provision", "install and start Docker if missing, also under Jenkins (also ENVOY_PIPELINE_PROVISION=1)")
    .action(
      action(async (o: StageOptions) => {
        configFrom(o);
        const { prepare } = await import("./stages/prepare.ts");
        await prepare({ forceLocal: o.forceLocal === true, provision: o.provision === true });
      }),
    );

  stageCommand(program, "build", "build the stack's images (docker compose build)").action(
    action(async (o: StageOptions) => {
      const config = configFrom(o);
      const [{ build }, { stageContext }] = await Promise.all([import("./stages/build.ts"), import("./stages/context.ts")]);
      const r = await build(await stageContext(config));
      log.info(`built in ${r.seconds.toFixed(1)}s`);
    }),
  );

  portOptions(stageCommand(program, "deploy", "start the stack and wait until Envoy routes to every replica")).action(
    action(async (o: StageOptions) => {
      const config = configFrom(o);
      const [{ deploy }, { stageContext }] = await Promise.all([import("./stages/deploy.ts"), import("./stages/context.ts")]);
      const r = await deploy(await stageContext(config));
      log.info(
        `deployed ${config.projectName} in ${r.seconds.toFixed(1)}s: listener ${r.endpoints.listenerUrl}, admin ${r.endpoints.adminUrl}`,
      );
    }),
  );

  stageCommand(program, "scale", "set replicas per service and wait until Envoy reports each new replica healthy")
    .addOption(scaleOption())
    .action(
      action(async (o: StageOptions) => {
        const config = configFrom(o);
        const [{ scaleMeasured }, { stageContext }, { requireStack }] = await Promise.all([
          import("./stages/scale.ts"),
          import("./stages/context.ts"),
          import("./stack/stacks.ts"),
        ]);
        const ctx = await stageContext(config);
        await requireStack(ctx.locator.exists, config.projectName, "scale", ctx.locator.where);
        const r = await scaleMeasured(ctx);
        for (const [service, replicas] of Object.entries(r.replicas)) {
          const c = r.convergence[service];
          const converged =
            c?.seconds != null ? `; exactly these replicas got traffic ${c.seconds.toFixed(2)}s after the scale started` : "";
          log.info(`${service}: ${replicas.length} replicas (${replicas.map((x) => x.hostname).join(", ")})${converged}`);
        }
        log.info(`scaled in ${r.seconds.toFixed(1)}s; Envoy converged in ${r.envoyConvergenceSeconds.toFixed(1)}s`);
      }),
    );
}

/** verify: the proof that Envoy balances. */
function registerVerifyCommand(program: Command): void {
  verifyOptions(stageCommand(program, "verify", "prove that Envoy spreads requests over every replica"))
    .addOption(scaleOption())
    .option("--json", "print the JSON report on stdout")
    .action(
      action(async (o: StageOptions) => {
        const config = configFrom(o);
        const [{ runVerifyStage }, { stageContext }, { requireStack }] = await Promise.all([
          import("./stages/verify.ts"),
          import("./stages/context.ts"),
          import("./stack/stacks.ts"),
        ]);
        const ctx = await stageContext(config);
        await requireStack(ctx.locator.exists, ctx.config.projectName, "verify", ctx.locator.where);
        const scaleGiven = o.scale !== undefined || layerFromEnv().scale !== undefined;
        return runVerifyStage(ctx, { json: o.json === true, scaleGiven });
      }),
    );
}

/** teardown and ls: the stacks on this host. */
function registerCleanupCommands(program: Command): void {
  stageCommand(program, "teardown", "remove this project's containers, networks, volumes and the image tags nothing else uses")
    .option("--remove-images", "accepted for compatibility: unused image tags of the stack are always removed")
    .option("--stale", "instead: remove every stack of this tool whose owner is gone (or, with --older-than, that is older)")
    .option("--older-than <age>", "with --stale: also stacks older than this (e.g. 2h, 30m, 1d)")
    .option("--match <prefix>", "with --stale: only projects whose name starts with this (e.g. one Jenkins job's)")
    .action(
      action(async (o: StageOptions) => {
        if (o.stale === true) return teardownStale(o);
        if (o.olderThan !== undefined || o.match !== undefined)
          throw new ConfigError(`${o.olderThan !== undefined ? "--older-than" : "--match"}: only with --stale`);
        return teardownCommand(configFrom(o));
      }),
    );

  program
    .command("ls")
    .description("list the stacks this tool started on this Docker host: project, age, state, owner, URLs")
    .option("--json", "print them as JSON")
    .action(
      action(async (o: { json?: boolean }) => {
        const [{ docker: dockerClient, requireDockerEngine }, { formatStacks, ownedStacks }] = await Promise.all([
          import("./docker/engine.ts"),
          import("./stack/stacks.ts"),
        ]);
        await requireDockerEngine();
        const stacks = await ownedStacks(dockerClient());
        process.stdout.write(o.json === true ? `${JSON.stringify(stacks, null, 2)}\n` : formatStacks(stacks));
      }),
    );
}

/** pipeline: every stage in a row. */
function registerPipelineCommand(program: Command): void {
  verifyOptions(portOptions(stageCommand(program, "pipeline", "prepare, build, deploy, scale, verify, then teardown")))
    .addOption(scaleOption())
    .option("--keep", "leave the stack running afterwards")
    .option("--remove-images", "teardown also removes the images built for this run")
    .action(
      action(async (o: StageOptions) => {
        const config = configFrom(o, true);
        const { runPipeline } = await import("./stages/pipeline.ts");
        return runPipeline(config);
      }),
    );
}

export function buildProgram(): Command {
  const program = new Command("envoy-pipeline")
    .description("Build, deploy, scale and verify HTTP services behind an Envoy front proxy with Docker Compose.")
    .version(packageVersion(), "-V, --version", "print the version of envoy-pipeline")
    .showHelpAfterError("(envoy-pipeline <command> --help for usage)")
    .enablePositionalOptions()
    // Bad flags are bad input: exit 2 (commander's default is 1), as for a bad config value.
    // Subcommands inherit this from the commands below, which are created after it.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

  registerStackCommands(program);
  registerVerifyCommand(program);
  registerCleanupCommands(program);
  registerPipelineCommand(program);

  registerWebhookCommands(program);
  registerControlPlaneCommand(program);
  registerRenderCommands(program, action);
  registerClusterCommands(program, action);
  registerInitCommand(program, action);
  return program;
}

/**
 * Whether this process was started to run the CLI (`node harness/cli.ts`, or the envoy-pipeline
 * bin, also through npx's symlink) rather than by a test that imports buildProgram to parse
 * command lines without running anything.
 */
function startedAsCli(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  let started: string;
  try {
    started = realpathSync(script);
  } catch {
    return false;
  }
  const here = fileURLToPath(import.meta.url);
  return started === here || started === join(repoRoot, "bin", "envoy-pipeline.js");
}

if (startedAsCli()) await buildProgram().parseAsync(process.argv);
