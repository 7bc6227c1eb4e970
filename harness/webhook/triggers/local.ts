// The local trigger: builds the pushed commit on this machine.
// Design notes: docs/webhook.md ("webhook/triggers/local.ts").
import { closeSync, existsSync, openSync, writeSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { delimiter, dirname, join } from "node:path";
import { z } from "zod";
import { errorMessage, formatIssues } from "../../lib/errors.ts";
import { type Logger, silentLogger } from "../../lib/log.ts";
import { repoRoot } from "../../lib/paths.ts";
import { poll } from "../../lib/poll.ts";
import { groupAlive } from "../../lib/process.ts";
import { pipelineEnv } from "../child-env.ts";
import { type GroupResult, runInGroup } from "./process-group.ts";
import type { RunRequest, RunResult, Trigger } from "./types.ts";
import { type StepRunner, Worktrees } from "./worktree.ts";

/** `node --import tsx <checkout>/harness/cli.ts pipeline`, with the node running this process. */
export function defaultLocalCommand(checkout: string = repoRoot): string[] {
  return [process.execPath, "--import", "tsx", join(checkout, "harness", "cli.ts"), "pipeline"];
}

export interface LocalTriggerOptions {
  /**
   * Program and arguments, run with the worktree as working directory (so relative paths are the
   * worktree's); default `defaultLocalCommand(<worktree>)`. Tests inject a fake pipeline here.
   */
  readonly command?: readonly string[];
  /** The git repository whose commits are built (any folder inside it); default the receiver's checkout. */
  readonly repository?: string;
  /** Remote name or URL a missing commit is fetched from; default `origin`. */
  readonly remote?: string;
  /** Folder of the per-run worktrees (`<state-dir>/webhook/worktrees`). */
  readonly worktreeDir: string;
  /** Folder of the per-run report folders (`<state-dir>/webhook/reports`), passed as ENVOY_PIPELINE_REPORT_DIR. */
  readonly reportDir: string;
  /**
   * Checkout whose node_modules is hard-linked into a worktree with an identical
   * package-lock.json; default the receiver's checkout; null: never (the bootstrap installs).
   */
  readonly nodeModulesFrom?: string | null;
  /** Folder for the per-run log files. */
  readonly logDir: string;
  /** File naming the running step's process group, for recovery after a crash. */
  readonly pidFile: string;
  /** Base environment; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** After SIGTERM, how long a step may take before SIGKILL. */
  readonly killGraceMs?: number;
  /** Limit of `git fetch` and `git worktree add` (default 10 min). */
  readonly gitTimeoutMs?: number;
  readonly log?: Logger;
}

const pidFileSchema = z.object({
  // Never 0 or 1: kill(0)/kill(-1) address our own process group / every process.
  pid: z.number().int().min(2),
  run: z.number().int(),
  buildTag: z.string(),
  startedAt: z.string(),
});

export class LocalTrigger implements Trigger {
  readonly kind = "local" as const;
  readonly worktrees: Worktrees;
  readonly #options: LocalTriggerOptions;
  readonly #log: Logger;

  constructor(options: LocalTriggerOptions) {
    this.#options = options;
    if (options.command !== undefined && options.command.length === 0) throw new Error("LocalTrigger: empty command");
    this.#log = options.log ?? silentLogger;
    this.worktrees = new Worktrees({
      repository: options.repository ?? repoRoot,
      remote: options.remote ?? "origin",
      dir: options.worktreeDir,
      nodeModulesFrom: options.nodeModulesFrom === undefined ? repoRoot : options.nodeModulesFrom,
      ...(options.env ? { env: options.env } : {}),
      ...(options.gitTimeoutMs !== undefined ? { gitTimeoutMs: options.gitTimeoutMs } : {}),
    });
  }

  /** The command of a run whose worktree is `worktree`. */
  commandFor(worktree: string): readonly string[] {
    return this.#options.command ?? defaultLocalCommand(worktree);
  }

  reportDirFor(request: RunRequest): string {
    return join(this.#options.reportDir, `run-${request.run}-${request.commit.slice(0, 7)}`);
  }

  /** The environment of a run: the allow-listed part of the receiver's (child-env.ts), plus the commit to build. */
  environment(request: RunRequest): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = pipelineEnv(this.#options.env ?? process.env);
    // The worktree's bootstrap and npm scripts find the Node.js this receiver runs on first.
    env.PATH = [dirname(process.execPath), env.PATH].filter(Boolean).join(delimiter);
    env.ENVOY_PIPELINE_COMMIT = request.commit;
    env.ENVOY_PIPELINE_BRANCH = request.branch;
    env.ENVOY_PIPELINE_REPOSITORY = request.repository;
    env.ENVOY_PIPELINE_DELIVERY = request.deliveryId;
    env.ENVOY_PIPELINE_REPORT_DIR = this.reportDirFor(request);
    env.BUILD_TAG = request.buildTag;
    return env;
  }

  logFileFor(request: RunRequest): string {
    return join(this.#options.logDir, `run-${request.run}-${request.commit.slice(0, 7)}.log`);
  }

  describe(request: RunRequest): Record<string, unknown> {
    const worktree = this.worktrees.pathFor(request);
    return {
      trigger: "local",
      git: {
        repository: this.worktrees.repository,
        remote: this.worktrees.remote,
        commit: request.commit,
        worktree,
      },
      command: [...this.commandFor(worktree)],
      cwd: worktree,
      env: {
        ENVOY_PIPELINE_COMMIT: request.commit,
        ENVOY_PIPELINE_BRANCH: request.branch,
        ENVOY_PIPELINE_REPORT_DIR: this.reportDirFor(request),
        BUILD_TAG: request.buildTag,
      },
      logFile: this.logFileFor(request),
    };
  }

  async run(request: RunRequest, signal: AbortSignal): Promise<RunResult> {
    const logFile = this.logFileFor(request);
    const worktree = this.worktrees.pathFor(request);
    let fd: number;
    try {
      fd = openSync(logFile, "a", 0o600);
      writeSync(
        fd,
        `# envoy-pipeline webhook run #${request.run}: delivery ${request.deliveryId}, ` +
          `${request.repository} ${request.branch} @ ${request.commit}\n` +
          `# repository ${this.worktrees.repository}, worktree ${worktree}\n`,
      );
    } catch (err) {
      return { outcome: "failed", reason: `cannot write the run log ${logFile}: ${errorMessage(err)}` };
    }
    const note = (line: string): void => {
      try {
        writeSync(fd, `# ${line}\n`);
      } catch {
        // the log is gone; the run goes on
      }
    };
    try {
      if (signal.aborted) {
        return { outcome: "interrupted", reason: "the receiver was stopping; the pipeline was not started", logFile };
      }
      try {
        return { ...(await this.#runInWorktree(request, signal, fd, note, logFile)), logFile };
      } catch (err) {
        return { outcome: "failed", reason: `the local trigger failed: ${errorMessage(err)}`, logFile };
      } finally {
        // Whatever happened: the worktree goes (git's record of it too).
        const { removed, detail } = await this.worktrees.remove(worktree);
        note(detail);
        if (!removed) this.#log.warn(`run #${request.run}: ${detail}; it is removed at the next start`);
      }
    } finally {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
  }

  async #runInWorktree(
    request: RunRequest,
    signal: AbortSignal,
    fd: number,
    note: (line: string) => void,
    logFile: string,
  ): Promise<Omit<RunResult, "logFile">> {
    const notStarted = { outcome: "interrupted", reason: "the receiver was stopping; the pipeline was not started" } as const;
    const env = this.environment(request);
    const step: StepRunner = (s) =>
      runInGroup(
        { ...s, env: s.env ?? env },
        {
          logFd: fd,
          signal,
          killGraceMs: this.#options.killGraceMs ?? 10_000,
          pidFile: this.#options.pidFile,
          pidRecord: { run: request.run, buildTag: request.buildTag },
          log: this.#log,
        },
      );
    const prepared = await this.worktrees.prepare(request, step, note);
    if (!prepared.ok) return prepared.result;
    const worktree = prepared.path;
    if (signal.aborted) return notStarted;

    const bootstrap = join(worktree, "scripts", "bootstrap.sh");
    if (existsSync(bootstrap)) {
      note("sh scripts/bootstrap.sh");
      const installed = await step({ label: "scripts/bootstrap.sh", program: "sh", args: [bootstrap], cwd: worktree });
      if (installed.code !== 0 || installed.stoppedBy !== undefined || installed.spawnError) {
        return outcomeOf(installed, "scripts/bootstrap.sh (npm dependencies)", "sh", logFile);
      }
    } else {
      note(`no scripts/bootstrap.sh at ${request.commit.slice(0, 7)}: npm dependencies not installed`);
    }
    if (signal.aborted) return notStarted;

    const [program, ...args] = this.commandFor(worktree) as [string, ...string[]];
    note(`command: ${JSON.stringify([program, ...args])} in ${worktree}`);
    return outcomeOf(await step({ label: "pipeline", program, args, cwd: worktree }), "the pipeline", program, logFile);
  }

  /**
   * After a crash of the receiver, what it started may still be running (in its own process
   * group). Waits until that group is gone so that two pipelines never run at once, then removes
   * the worktrees the crash left behind.
   */
  async recover(signal: AbortSignal): Promise<void> {
    const file = this.#options.pidFile;
    let text: string | undefined;
    try {
      text = await readFile(file, "utf8");
    } catch {
      text = undefined;
    }
    let info: z.infer<typeof pidFileSchema> | undefined;
    if (text !== undefined) {
      try {
        const parsed = pidFileSchema.safeParse(JSON.parse(text));
        if (parsed.success) info = parsed.data;
        else this.#log.warn(`${file}: ${formatIssues(parsed.error)}; ignoring it`);
      } catch {
        this.#log.warn(`${file}: not JSON; ignoring it`);
      }
    }
    if (info && groupAlive(info.pid)) {
      this.#log.warn(
        `pipeline run #${info.run} (${info.buildTag}, process group ${info.pid}) from before the restart is still running; ` +
          "waiting for it to exit before starting another",
      );
      const pid = info.pid;
      const t0 = performance.now();
      const reminder = setInterval(() => {
        this.#log.info(`  still waiting for process group ${pid} (${((performance.now() - t0) / 1000).toFixed(0)}s)`);
      }, 30_000);
      try {
        await poll(() => (groupAlive(pid) ? undefined : true), { timeoutMs: Number.POSITIVE_INFINITY, intervalMs: 200, signal });
      } catch {
        // aborted: the receiver is stopping
      } finally {
        clearInterval(reminder);
      }
    }
    if (signal.aborted) return;
    await rm(file, { force: true });
    for (const line of await this.worktrees.pruneStale()) this.#log.warn(`stale worktree from before the restart: ${line}`);
  }
}

/** A finished step as the run's result. `what` names it in the reason. */
function outcomeOf(r: GroupResult, what: string, program: string, logFile: string): Omit<RunResult, "logFile"> {
  if (r.spawnError) return { outcome: "failed", reason: `could not start ${program}: ${r.spawnError.message}` };
  if (r.stoppedBy !== undefined) {
    return {
      outcome: r.timedOut ? "failed" : "interrupted",
      reason: `stopped by the receiver (${r.stoppedBy}) before it finished${what === "the pipeline" ? "" : ` (${what})`}`,
      exitCode: r.code,
      signal: r.signal,
    };
  }
  if (r.code === 0) return { outcome: "succeeded", reason: null, exitCode: 0, signal: null };
  const how = r.signal !== null ? `was killed by ${r.signal}` : `exited with code ${r.code}`;
  return { outcome: "failed", reason: `${what} ${how}; see ${logFile}`, exitCode: r.code, signal: r.signal };
}
