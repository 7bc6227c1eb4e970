// `envoy-pipeline webhook` and `envoy-pipeline runs`, registered on the main commander program.
import { type Command, Option } from "commander";
import type { WebhookApp } from "./app.ts";
import {
  DEFAULT_HTTP_LIMITS,
  DEFAULT_MAX_BODY_BYTES,
  GITHUB_MAX_BODY_BYTES,
  jenkinsFromEnv,
  localCommandFromEnv,
  parseWebhookFlags,
  secretsFromEnv,
} from "./config.ts";
import { collect } from "../lib/cli-options.ts";
import { errorMessage } from "../lib/errors.ts";
import { log as harnessLog, type Logger } from "../lib/log.ts";
import { repoRoot } from "../lib/paths.ts";
import { ListenError, StateError, WebhookConfigError } from "./errors.ts";
import { DEFAULT_STATE_DIR } from "./paths.ts";
import type { Trigger } from "./triggers/types.ts";

/** What the commands touch outside themselves; tests replace parts of it. */
export interface WebhookCliDeps {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: (text: string) => void;
  /** Raw stderr (the `listening on` line). */
  readonly stderr: (text: string) => void;
  readonly log: Logger;
  /** Sets the process exit code (as every envoy-pipeline command: 2 = bad configuration, 1 = failure). */
  readonly setExitCode: (code: number) => void;
}

function defaultDeps(): WebhookCliDeps {
  return {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    log: harnessLog,
    setExitCode: (code) => {
      process.exitCode = code;
    },
  };
}

function report(deps: WebhookCliDeps, err: unknown): void {
  const known = err instanceof WebhookConfigError || err instanceof StateError || err instanceof ListenError;
  deps.log.info(`error: ${known ? err.message : ((err as Error).stack ?? errorMessage(err))}`);
  deps.setExitCode(err instanceof WebhookConfigError ? 2 : 1);
}

/** Waits for SIGTERM/SIGINT: the first stops gracefully, the second kills the running pipeline. */
function untilSignalled(app: WebhookApp, log: Logger): Promise<void> {
  return new Promise((resolve, reject) => {
    let count = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      count += 1;
      if (count === 1) {
        const running = app.scheduler.running;
        log.info(
          `${signal}: not accepting deliveries any more` +
            (running ? `; waiting for run #${running.run} to finish (${signal} again kills it)` : ""),
        );
        const queued = app.scheduler.queued.length;
        app
          .stop()
          .then(() => {
            if (queued > 0)
              log.info(`${queued} queued deliver${queued === 1 ? "y stays" : "ies stay"} recorded; resumed at the next start`);
            log.info("stopped");
            process.off("SIGTERM", onSignal);
            process.off("SIGINT", onSignal);
            resolve();
          })
          .catch(reject);
      } else if (count === 2) {
        log.warn(`${signal} again: killing the running pipeline`);
        app.killRunning();
      } else {
        log.warn(`${signal} a third time: exiting without waiting`);
        process.exit(130);
      }
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}

interface WebhookCommandOptions {
  port: string;
  host: string;
  branch?: string[];
  repository?: string[];
  trigger: string;
  jenkinsJob?: string;
  gitRepository?: string;
  gitRemote?: string;
  dryRun?: boolean;
  allowInsecureJenkins?: boolean;
  stateDir: string;
  maxBodyBytes: string;
  maxConnections: string;
  maxInFlightBytes: string;
}

interface RunsCommandOptions {
  stateDir: string;
  json?: boolean;
  limit?: string;
}

export function registerWebhookCommands(program: Command, overrides: Partial<WebhookCliDeps> = {}): void {
  const deps: WebhookCliDeps = { ...defaultDeps(), ...overrides };
  registerWebhookCommand(program, deps);
  registerRunsCommand(program, deps);
}

/** `webhook`: the receiver, until a signal stops it. */
function registerWebhookCommand(program: Command, deps: WebhookCliDeps): void {
  program
    .command("webhook")
    .description(
      "receive GitHub webhooks at POST /github-webhook/ and run the pipeline for pushes " +
        "(secret from GITHUB_WEBHOOK_SECRET, or GITHUB_WEBHOOK_SECRETS=new,old while rotating)",
    )
    .requiredOption("--port <n>", "port to listen on (0 picks a free one)")
    .option("--host <address>", "address to listen on", "127.0.0.1")
    .option("--branch <name>", "branch whose pushes run the pipeline, repeatable (default: the repository's default branch)", collect)
    .option(
      "--repository <owner/name>",
      "accept pushes of this repository only; --trigger local: exactly one (default: the owner/name of --git-remote's URL); " +
        "--trigger jenkins: repeatable (default: any)",
      collect,
    )
    .addOption(new Option("--trigger <kind>", "what runs the pipeline").choices(["local", "jenkins"]).default("local"))
    .option(
      "--jenkins-job <name>",
      "job for --trigger jenkins (folders as a/b; a {branch} segment: the pushed branch's job of a multibranch project); " +
        "needs JENKINS_URL, JENKINS_USER (or JENKINS_USER_ID), JENKINS_API_TOKEN",
    )
    .option(
      "--git-repository <dir>",
      "--trigger local: git repository whose pushed commits are built, each in a throwaway worktree (default: this checkout)",
    )
    .option(
      "--git-remote <name|url>",
      "--trigger local: where a pushed commit missing from the repository is fetched from (default: origin)",
    )
    .option(
      "--allow-insecure-jenkins",
      "--trigger jenkins: allow a plain http:// JENKINS_URL that is not loopback (the token goes in clear text)",
    )
    .option("--dry-run", "record what would be triggered without triggering it")
    .option("--state-dir <dir>", "where deliveries, runs and run logs are kept", DEFAULT_STATE_DIR)
    .option(
      "--max-body-bytes <n>",
      `largest body accepted (413 beyond); up to ${GITHUB_MAX_BODY_BYTES}, GitHub's own cap, for repositories with huge pushes`,
      String(DEFAULT_MAX_BODY_BYTES),
    )
    .option("--max-connections <n>", "open connections at once; more are closed on accept", String(DEFAULT_HTTP_LIMITS.maxConnections))
    .option("--max-in-flight-bytes <n>", "bytes of all bodies being read at once (503 beyond)", String(DEFAULT_HTTP_LIMITS.inFlightBytes))
    .action(async (opts: WebhookCommandOptions) => {
      try {
        await runWebhook(opts, deps);
      } catch (err) {
        report(deps, err);
      }
    });
}

/** The `webhook` command's work: flags and environment checked, the receiver started with its trigger. */
async function runWebhook(opts: WebhookCommandOptions, deps: WebhookCliDeps): Promise<void> {
  const flags = parseWebhookFlags({
    ...opts,
    branch: opts.branch ?? [],
    repository: opts.repository ?? [],
    dryRun: opts.dryRun === true,
    allowInsecureJenkins: opts.allowInsecureJenkins === true,
  });
  const secrets = secretsFromEnv(deps.env);
  if (flags.trigger === "local" && flags.jenkinsJob !== undefined) {
    throw new WebhookConfigError("--jenkins-job is only for --trigger jenkins");
  }
  const jenkins = flags.trigger === "jenkins" ? jenkinsFromEnv(deps.env, flags.jenkinsJob, flags.allowInsecureJenkins) : undefined;
  const localCommand = localCommandFromEnv(deps.env);
  // Loaded when the command runs, not when the CLI starts (`--version` loads none of them).
  const [{ checkGitSource, localRepository }, { startWebhook }, { JenkinsTrigger }, { LocalTrigger }] = await Promise.all([
    import("./git.ts"),
    import("./app.ts"),
    import("./triggers/jenkins.ts"),
    import("./triggers/local.ts"),
  ]);
  const git = jenkins ? undefined : await checkGitSource(flags.gitRepository ?? repoRoot, flags.gitRemote, deps.env);
  const repositories = git ? [await localRepository(flags.repositories, git, deps.env)] : flags.repositories;
  const app = await startWebhook({
    host: flags.host,
    port: flags.port,
    stateDir: flags.stateDir,
    secrets,
    filters: { branches: flags.branches, repositories },
    dryRun: flags.dryRun,
    maxBodyBytes: flags.maxBodyBytes,
    limits: { maxConnections: flags.maxConnections, inFlightBytes: flags.maxInFlightBytes },
    log: deps.log,
    onListening: (url) => deps.stderr(`listening on ${url}\n`),
    trigger: (store): Trigger =>
      jenkins
        ? new JenkinsTrigger({ settings: jenkins, log: deps.log })
        : new LocalTrigger({
            ...(localCommand ? { command: localCommand } : {}),
            ...(git ? { repository: git.repository, remote: git.remote } : {}),
            env: deps.env,
            worktreeDir: store.paths.worktrees,
            reportDir: store.paths.reports,
            logDir: store.paths.runLogs,
            pidFile: store.paths.runPid,
            log: deps.log,
          }),
  });
  for (const warning of git?.warnings ?? []) deps.log.warn(warning);
  deps.log.info(
    `triggering ${flags.dryRun ? "(dry run) " : ""}${
      jenkins
        ? `Jenkins job ${jenkins.job} at ${jenkins.url.href}`
        : `the local pipeline for ${repositories[0]} (worktrees of ${git?.repository}, fetching from ${git?.remote})`
    } ` +
      `on pushes to ${flags.branches.length > 0 ? flags.branches.join(", ") : "the default branch"}; ` +
      `${secrets.length} secret${secrets.length === 1 ? "" : "s"}; state in ${app.store.paths.dir}`,
  );
  await untilSignalled(app, deps.log);
  deps.setExitCode(0);
}

/** `runs`: the deliveries recorded and the runs they started. */
function registerRunsCommand(program: Command, deps: WebhookCliDeps): void {
  program
    .command("runs")
    .description("list the GitHub deliveries the webhook receiver recorded and the pipeline runs they started")
    .option("--state-dir <dir>", "state directory of the receiver", DEFAULT_STATE_DIR)
    .option("--json", "print a JSON array on stdout (one object per delivery, with its runs)")
    .option("--limit <n>", "only the most recent n deliveries")
    .action(async (opts: RunsCommandOptions) => {
      try {
        let limit: number | undefined;
        if (opts.limit !== undefined) {
          limit = Number(opts.limit);
          if (!Number.isInteger(limit) || limit < 1)
            throw new WebhookConfigError(`--limit: '${opts.limit}' is not a positive whole number`);
        }
        const [{ readDeliveries }, { formatRunsTable, runsJsonSchema }] = await Promise.all([import("./store.ts"), import("./runs.ts")]);
        const { file, deliveries } = await readDeliveries(opts.stateDir);
        const shown = limit !== undefined ? deliveries.slice(-limit) : deliveries;
        if (opts.json) {
          deps.stdout(`${JSON.stringify(runsJsonSchema.parse(shown), null, 2)}\n`);
        } else if (shown.length === 0) {
          deps.log.info(`no deliveries recorded in ${file}`);
        } else {
          deps.stdout(`${formatRunsTable(shown)}\n`);
        }
        deps.setExitCode(0);
      } catch (err) {
        report(deps, err);
      }
    });
}
