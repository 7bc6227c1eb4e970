// The local trigger builds the pushed commit, not whatever the receiver's checkout holds.
// Design notes: docs/webhook.md ("webhook/triggers/worktree.ts").
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { runProcess } from "../../lib/process.ts";
import { git, gitError } from "../git.ts";
import type { GroupResult, GroupStep } from "./process-group.ts";
import type { RunRequest, RunResult } from "./types.ts";

/** Runs an abortable step of the run (in its own process group, output in the run log). */
export type StepRunner = (step: Omit<GroupStep, "env"> & { env?: NodeJS.ProcessEnv }) => Promise<GroupResult>;

export interface WorktreeOptions {
  /** The git repository whose commits are built (any folder inside it). */
  readonly repository: string;
  /** Remote name or URL to fetch a commit from when the repository does not have it. */
  readonly remote: string;
  /** Folder holding the worktrees (`<state-dir>/webhook/worktrees`). */
  readonly dir: string;
  /**
   * A checkout whose `node_modules` is hard-linked (`cp -al`) into a worktree whose
   * package-lock.json is byte-identical to this checkout's; null: never.
   */
  readonly nodeModulesFrom: string | null;
  /** Base environment of the git children. */
  readonly env?: NodeJS.ProcessEnv;
  /** Limit of `git fetch` and `git worktree add` (default 10 min). */
  readonly gitTimeoutMs?: number;
}

export type Prepared =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly result: Pick<RunResult, "outcome" | "reason"> };

const FULL_COMMIT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

function stopped(step: string, r: GroupResult): Pick<RunResult, "outcome" | "reason"> | undefined {
  if (r.timedOut) return { outcome: "failed", reason: `${step} took too long and was stopped (${r.stoppedBy ?? "SIGTERM"})` };
  if (r.stoppedBy !== undefined) return { outcome: "interrupted", reason: `stopped by the receiver (${r.stoppedBy}) during ${step}` };
  if (r.spawnError) return { outcome: "failed", reason: `could not start ${step}: ${r.spawnError.message}` };
  return undefined;
}

export class Worktrees {
  readonly repository: string;
  readonly remote: string;
  readonly dir: string;
  readonly #options: WorktreeOptions;

  constructor(options: WorktreeOptions) {
    this.#options = options;
    this.repository = resolve(options.repository);
    this.remote = options.remote;
    this.dir = resolve(options.dir);
  }

  /** `<dir>/run-<n>-<sha7>`: unique, since run numbers never repeat in a state directory. */
  pathFor(request: RunRequest): string {
    return join(this.dir, `run-${request.run}-${request.commit.slice(0, 7)}`);
  }

  #git(args: readonly string[], timeoutMs = 120_000) {
    return git(["-C", this.repository, ...args], { ...(this.#options.env ? { env: this.#options.env } : {}), timeoutMs });
  }

  async hasCommit(commit: string): Promise<boolean> {
    return (await this.#git(["cat-file", "-e", `${commit}^{commit}`], 30_000)).code === 0;
  }

  /**
   * The worktree of the run at its commit, ready to run: the commit fetched from the remote if the
   * repository lacks it, `git worktree add --detach`, node_modules hard-linked when the lock files
   * match. `note` gets one line per thing done (for the run log).
   */
  async prepare(request: RunRequest, step: StepRunner, note: (line: string) => void): Promise<Prepared> {
    const { commit } = request;
    if (!FULL_COMMIT.test(commit)) {
      return { ok: false, result: { outcome: "failed", reason: `'${commit}' is not a full commit id` } };
    }
    const path = this.pathFor(request);
    const timeoutMs = this.#options.gitTimeoutMs ?? 600_000;
    await mkdir(this.dir, { recursive: true });
    if (existsSync(path)) await this.remove(path);

    if (!(await this.hasCommit(commit))) {
      note(`commit ${commit} is not in ${this.repository}: git fetch ${this.remote} ${commit}`);
      const fetched = await step({
        label: "git fetch",
        program: "git",
        args: ["-C", this.repository, "fetch", "--no-tags", "--", this.remote, commit],
        cwd: this.repository,
        captureStderr: true,
        timeoutMs,
      });
      const halted = stopped("git fetch", fetched);
      if (halted) return { ok: false, result: halted };
      if (fetched.code !== 0) {
        return {
          ok: false,
          result: {
            outcome: "failed",
            reason: `commit ${commit} is not in ${this.repository} and git fetch ${this.remote} ${commit} failed: ${gitError(fetched.stderr)}`,
          },
        };
      }
      if (!(await this.hasCommit(commit))) {
        return { ok: false, result: { outcome: "failed", reason: `git fetch ${this.remote} ${commit} did not bring commit ${commit}` } };
      }
    }

    note(`git worktree add --detach ${path} ${commit}`);
    const added = await step({
      label: "git worktree add",
      program: "git",
      args: ["-C", this.repository, "worktree", "add", "--detach", "--", path, commit],
      cwd: this.repository,
      captureStderr: true,
      timeoutMs,
    });
    const halted = stopped("git worktree add", added);
    if (halted) return { ok: false, result: halted };
    if (added.code !== 0) {
      return { ok: false, result: { outcome: "failed", reason: `git worktree add of ${commit} failed: ${gitError(added.stderr)}` } };
    }
    note(await this.#linkNodeModules(path));
    return { ok: true, path };
  }

  /**
   * Hard-links the receiver's node_modules into the worktree when both package-lock.json files
   * are byte-identical, so that scripts/bootstrap.sh finds its stamp current and installs nothing.
   * Hard links, not a symlink: the worktree gets its own directory tree, so an `npm ci` there (a
   * stale stamp) or the removal of the worktree unlinks its own entries and never touches the
   * receiver's. Returns what was done, for the log.
   */
  async #linkNodeModules(worktree: string): Promise<string> {
    const from = this.#options.nodeModulesFrom;
    if (from === null) return "node_modules: not shared (scripts/bootstrap.sh installs them)";
    const source = join(from, "node_modules");
    const target = join(worktree, "node_modules");
    if (existsSync(target)) return "node_modules: the commit has its own";
    const [mine, theirs] = await Promise.all([
      readFile(join(from, "package-lock.json")).catch(() => null),
      readFile(join(worktree, "package-lock.json")).catch(() => null),
    ]);
    if (theirs === null) return "node_modules: the commit has no package-lock.json; not shared";
    if (mine === null || !existsSync(source)) return `node_modules: ${from} has none to share`;
    if (!mine.equals(theirs)) {
      const digest = (b: Buffer) => createHash("sha256").update(b).digest("hex").slice(0, 12);
      const which = `${digest(theirs)} vs ${digest(mine)}`;
      return `node_modules: package-lock.json differs from the receiver's (${which}); scripts/bootstrap.sh installs them`;
    }
    const started = Date.now();
    const r = await runProcess("cp", ["-al", "--", source, target], { stdout: "ignore" });
    const copied = { code: r.code, stderr: r.spawnError?.message ?? r.stderr };
    if (copied.code !== 0) {
      await rm(target, { recursive: true, force: true }).catch(() => undefined);
      return `node_modules: cp -al ${source} failed (${copied.stderr.trim() || `code ${copied.code}`}); scripts/bootstrap.sh installs them`;
    }
    return `node_modules: hard-linked from ${source} (identical package-lock.json) in ${Date.now() - started} ms`;
  }

  /**
   * `git worktree remove --force`; when git cannot (a half-created worktree, another repository's),
   * the folder is deleted and `git worktree prune` drops git's record of it. Never throws; returns
   * what happened, for the log.
   */
  async remove(path: string): Promise<{ removed: boolean; detail: string }> {
    if (!existsSync(path)) {
      // Never created (the fetch failed, the run was stopped first): only git's record may be left.
      await this.#git(["worktree", "prune"]);
      return { removed: true, detail: `no worktree was made at ${path}` };
    }
    const removed = await this.#git(["worktree", "remove", "--force", "--", path]);
    if (removed.code === 0 && !existsSync(path)) return { removed: true, detail: `git worktree remove --force ${path}` };
    try {
      await rm(path, { recursive: true, force: true, maxRetries: 3 });
    } catch (err) {
      return { removed: false, detail: `cannot remove ${path}: ${(err as Error).message}` };
    }
    const pruned = await this.#git(["worktree", "prune"]);
    const why = removed.code === 0 ? "git left files behind" : gitError(removed.stderr);
    return {
      removed: true,
      detail:
        `deleted ${path} (git worktree remove: ${why})` +
        (pruned.code === 0 ? "; git worktree prune" : `; git worktree prune failed: ${gitError(pruned.stderr)}`),
    };
  }

  /**
   * At start-up, after any pipeline left by a crashed receiver is gone: removes every worktree
   * under `dir` (a crash or a third signal left them) and prunes git's records of worktrees whose
   * folder is gone. Returns one line per worktree removed or not.
   */
  async pruneStale(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      names = [];
    }
    const lines: string[] = [];
    for (const name of names.sort()) {
      const { detail } = await this.remove(join(this.dir, name));
      lines.push(detail);
    }
    await this.#git(["worktree", "prune"]);
    return lines;
  }
}
