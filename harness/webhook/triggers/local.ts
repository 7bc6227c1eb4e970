// The local trigger: runs `envoy-pipeline pipeline` on this machine as a child process, in its own
// process group (so a terminal's Ctrl-C reaches only the receiver, which decides), with its output
// in a per-run log file. Exit code 0 is success.
import { spawn } from "node:child_process";
import { closeSync, openSync, writeSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { errorMessage, formatIssues } from "../errors.ts";
import { type Logger, repoRoot, silentLogger } from "../paths.ts";
import type { RunRequest, RunResult, Trigger } from "./types.ts";

/** `node --import tsx <repo>/harness/cli.ts pipeline`, with the node running this process. */
export function defaultLocalCommand(): string[] {
  return [process.execPath, "--import", "tsx", join(repoRoot, "harness", "cli.ts"), "pipeline"];
}

/** Variables the pipeline must not inherit from the receiver: secrets, and names that would
 * override the compose project the pipeline derives from BUILD_TAG. */
const WITHHELD_ENV = [
  "GITHUB_WEBHOOK_SECRET",
  "GITHUB_WEBHOOK_SECRETS",
  "JENKINS_API_TOKEN",
  "ENVOY_PIPELINE_PROJECT",
  "COMPOSE_PROJECT_NAME",
];

export interface LocalTriggerOptions {
  /** Program and arguments; default `defaultLocalCommand()`. */
  readonly command?: readonly string[];
  /** Working directory of the pipeline; default the repository root (where tsx resolves). */
  readonly cwd?: string;
  /** Folder for the per-run log files. */
  readonly logDir: string;
  /** File naming the running pipeline's process group, for recovery after a crash. */
  readonly pidFile: string;
  /** Base environment; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** After SIGTERM, how long the pipeline may take before SIGKILL. */
  readonly killGraceMs?: number;
  readonly log?: Logger;
}

const pidFileSchema = z.object({
  // Never 0 or 1: kill(0)/kill(-1) address our own process group / every process.
  pid: z.number().int().min(2),
  run: z.number().int(),
  buildTag: z.string(),
  startedAt: z.string(),
});

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export class LocalTrigger implements Trigger {
  readonly kind = "local" as const;
  readonly command: readonly string[];
  readonly #options: LocalTriggerOptions;
  readonly #log: Logger;

  constructor(options: LocalTriggerOptions) {
    this.#options = options;
    this.command = options.command ?? defaultLocalCommand();
    if (this.command.length === 0) throw new Error("LocalTrigger: empty command");
    this.#log = options.log ?? silentLogger;
  }

  /** The environment of a run: the receiver's, minus secrets, plus the commit to build. */
  environment(request: RunRequest): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...(this.#options.env ?? process.env) };
    for (const name of WITHHELD_ENV) delete env[name];
    env.ENVOY_PIPELINE_COMMIT = request.commit;
    env.ENVOY_PIPELINE_BRANCH = request.branch;
    env.ENVOY_PIPELINE_REPOSITORY = request.repository;
    env.ENVOY_PIPELINE_DELIVERY = request.deliveryId;
    env.BUILD_TAG = request.buildTag;
    return env;
  }

  logFileFor(request: RunRequest): string {
    return join(this.#options.logDir, `run-${request.run}-${request.commit.slice(0, 7)}.log`);
  }

  describe(request: RunRequest): Record<string, unknown> {
    return {
      trigger: "local",
      command: [...this.command],
      cwd: this.#options.cwd ?? repoRoot,
      env: {
        ENVOY_PIPELINE_COMMIT: request.commit,
        ENVOY_PIPELINE_BRANCH: request.branch,
        BUILD_TAG: request.buildTag,
      },
      logFile: this.logFileFor(request),
    };
  }

  async run(request: RunRequest, signal: AbortSignal): Promise<RunResult> {
    const logFile = this.logFileFor(request);
    const [program, ...args] = this.command as [string, ...string[]];
    let fd: number;
    try {
      fd = openSync(logFile, "a");
      writeSync(
        fd,
        `# envoy-pipeline webhook run #${request.run}: delivery ${request.deliveryId}, ` +
          `${request.repository} ${request.branch} @ ${request.commit}\n# command: ${JSON.stringify(this.command)}\n`,
      );
    } catch (err) {
      return { outcome: "failed", reason: `cannot write the run log ${logFile}: ${errorMessage(err)}` };
    }
    if (signal.aborted) {
      closeSync(fd);
      return { outcome: "interrupted", reason: "the receiver was stopping; the pipeline was not started", logFile };
    }
    return new Promise<RunResult>((resolve) => {
      const child = spawn(program, args, {
        cwd: this.#options.cwd ?? repoRoot,
        env: this.environment(request),
        stdio: ["ignore", fd, fd],
        detached: true,
      });
      let killTimer: NodeJS.Timeout | undefined;
      let stoppedBy: string | undefined;
      let pidWritten: Promise<unknown> = Promise.resolve();
      let done = false;
      const onAbort = (): void => {
        if (child.pid === undefined || stoppedBy !== undefined) return;
        stoppedBy = "SIGTERM";
        this.#log.warn(`stopping pipeline run #${request.run} (process group ${child.pid}) with SIGTERM`);
        killGroup(child.pid, "SIGTERM");
        killTimer = setTimeout(() => {
          if (child.pid === undefined) return;
          stoppedBy = "SIGKILL";
          this.#log.warn(`pipeline run #${request.run} still running; SIGKILL`);
          killGroup(child.pid, "SIGKILL");
        }, this.#options.killGraceMs ?? 10_000);
      };
      const finish = (result: RunResult): void => {
        if (done) return;
        done = true;
        clearTimeout(killTimer);
        signal.removeEventListener("abort", onAbort);
        try {
          closeSync(fd);
        } catch {
          // already closed
        }
        void pidWritten
          .then(() => rm(this.#options.pidFile, { force: true }))
          .catch(() => undefined)
          .then(() => resolve(result));
      };
      child.once("error", (err) => {
        finish({ outcome: "failed", reason: `could not start ${program}: ${err.message}`, logFile });
      });
      child.once("spawn", () => {
        const pidRecord = { pid: child.pid, run: request.run, buildTag: request.buildTag, startedAt: new Date().toISOString() };
        pidWritten = writeFile(this.#options.pidFile, `${JSON.stringify(pidRecord)}\n`).catch((err) =>
          this.#log.warn(`cannot write ${this.#options.pidFile}: ${errorMessage(err)}`),
        );
        signal.addEventListener("abort", onAbort, { once: true });
        if (signal.aborted) onAbort();
      });
      child.once("close", (code, sig) => {
        if (stoppedBy !== undefined) {
          finish({
            outcome: "interrupted",
            reason: `stopped by the receiver (${stoppedBy}) before it finished`,
            exitCode: code,
            signal: sig,
            logFile,
          });
        } else if (code === 0) {
          finish({ outcome: "succeeded", reason: null, exitCode: 0, signal: null, logFile });
        } else {
          const how = sig !== null ? `was killed by ${sig}` : `exited with code ${code}`;
          finish({ outcome: "failed", reason: `the pipeline ${how}; see ${logFile}`, exitCode: code, signal: sig, logFile });
        }
      });
    });
  }

  /**
   * After a crash of the receiver, the pipeline it started may still be running (it has its own
   * process group). Waits until that group is gone so that two pipelines never run at once.
   */
  async recover(signal: AbortSignal): Promise<void> {
    const file = this.#options.pidFile;
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      return;
    }
    let info: z.infer<typeof pidFileSchema> | undefined;
    try {
      const parsed = pidFileSchema.safeParse(JSON.parse(text));
      if (parsed.success) info = parsed.data;
      else this.#log.warn(`${file}: ${formatIssues(parsed.error)}; ignoring it`);
    } catch {
      this.#log.warn(`${file}: not JSON; ignoring it`);
    }
    if (info && groupAlive(info.pid)) {
      this.#log.warn(
        `pipeline run #${info.run} (${info.buildTag}, process group ${info.pid}) from before the restart is still running; ` +
          "waiting for it to exit before starting another",
      );
      let waited = 0;
      while (groupAlive(info.pid) && !signal.aborted) {
        await sleep(200);
        waited += 200;
        if (waited % 30_000 === 0) this.#log.info(`  still waiting for process group ${info.pid} (${waited / 1000}s)`);
      }
    }
    if (!signal.aborted) await rm(file, { force: true });
  }
}
