// Short git commands of the local trigger (is the commit here, remove a worktree, prune, checks at
// start-up), and the environment every git child gets (child-env.ts: an allow-list, so none of the
// GIT_DIR-like variables a receiver started from a hook may carry reach git).
import { resolve } from "node:path";
import { gitBaseEnv } from "./child-env.ts";
import { WebhookConfigError } from "./errors.ts";
import { runProcess } from "../lib/process.ts";

/**
 * The environment of git children: only what git needs (child-env.ts; never the webhook secret or
 * the Jenkins token), never prompts (there is nobody to answer), English messages.
 */
export function gitEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...gitBaseEnv(base), GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" };
}

export interface GitResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `git <args>` to completion and collects its output. In its own process group, so that a
 * Ctrl-C meant for the receiver does not cut a clean-up short; killed after `timeoutMs`.
 * Never rejects: a git that cannot start is code null with the error as stderr.
 */
export async function git(args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<GitResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const r = await runProcess("git", args, { env: gitEnv(options.env), timeoutMs, killGraceMs: 0 });
  if (r.spawnError) return { code: null, stdout: r.stdout, stderr: `cannot run git: ${r.spawnError.message}` };
  if (r.timedOut) return { code: null, stdout: r.stdout, stderr: `${r.stderr}\n(killed after ${timeoutMs} ms)` };
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

/**
 * git's complaint in one line: its `fatal:`/`error:` lines when there are any (the hints after them
 * are boilerplate), else every non-empty line; joined with "; ", at most 600 characters.
 */
export function gitError(stderr: string): string {
  const lines = stderr
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const errors = lines.filter((l) => /^(fatal|error):/.test(l));
  const text = (errors.length > 0 ? errors : lines).join("; ");
  if (text === "") return "(git printed nothing)";
  return text.length > 600 ? `${text.slice(0, 597)}...` : text;
}

/** A remote name or URL that cannot be taken for an option and is one word. */
export function remoteProblem(remote: string): string | undefined {
  if (remote.trim() === "") return "is empty";
  if (remote.startsWith("-")) return "must not start with '-'";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused here
  if (/[\s\x00-\x1f\x7f]/.test(remote)) return "must not contain spaces or control characters";
  return undefined;
}

export interface GitSource {
  /** Absolute path of the repository (as given, resolved). */
  readonly repository: string;
  readonly remote: string;
  /** Problems that do not stop the start (the default remote is missing). */
  readonly warnings: string[];
}

/**
 * Start-up checks for the local trigger: `repository` is a git repository (or inside one) and git
 * runs; `remote` is a remote of it, or a URL or path (`git fetch` takes either). An explicitly
 * chosen remote that is neither is a configuration error; a missing default `origin` only a warning
 * (commits already in the repository still build).
 */
export async function checkGitSource(repository: string, remote: string | undefined, env?: NodeJS.ProcessEnv): Promise<GitSource> {
  const path = resolve(repository);
  const where = await git(["-C", path, "rev-parse", "--absolute-git-dir"], { ...(env ? { env } : {}), timeoutMs: 30_000 });
  if (where.code !== 0) {
    throw new WebhookConfigError(`--git-repository '${repository}': not a git repository (${gitError(where.stderr)})`);
  }
  const name = remote ?? "origin";
  const problem = remoteProblem(name);
  if (problem) throw new WebhookConfigError(`--git-remote '${name}': ${problem}`);
  const listed = await git(["-C", path, "remote"], { ...(env ? { env } : {}), timeoutMs: 30_000 });
  const remotes = listed.stdout.split("\n").filter((r) => r !== "");
  const warnings: string[] = [];
  const looksLikeUrlOrPath = /[/:]/.test(name);
  if (!remotes.includes(name) && !looksLikeUrlOrPath) {
    const known = remotes.length > 0 ? `its remotes: ${remotes.join(", ")}` : "it has no remotes";
    if (remote !== undefined) {
      throw new WebhookConfigError(`--git-remote '${name}': not a remote of ${path} (${known}), nor a URL or path`);
    }
    warnings.push(
      `${path} has no remote 'origin' (${known}): a pushed commit that is not already in the repository ` +
        "cannot be fetched, and its run fails; choose one with --git-remote <name|url>",
    );
  }
  return { repository: path, remote: name, warnings };
}

/**
 * `owner/name` of a GitHub remote URL (`https://github.com/o/n(.git)`, `git@github.com:o/n.git`,
 * `ssh://git@github.com/o/n.git`, GitHub Enterprise hosts alike); undefined for anything else.
 */
export function repositoryOfRemoteUrl(url: string): string | undefined {
  const m =
    /^(?:https?|ssh|git):\/\/(?:[^@/]+@)?[^/]+\/([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(url) ??
    /^(?:[^@/]+@)?[^:/]+:([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

/**
 * The one repository the local trigger builds: `given` when one --repository was given, else the
 * owner/name of the remote's URL. Anything else is a configuration error.
 */
export async function localRepository(given: readonly string[], source: GitSource, env?: NodeJS.ProcessEnv): Promise<string> {
  if (given.length > 1) {
    throw new WebhookConfigError(`--trigger local builds one repository; --repository was given ${given.length} times`);
  }
  if (given[0] !== undefined) return given[0];
  const url = /[/:]/.test(source.remote)
    ? source.remote
    : (
        await git(["-C", source.repository, "remote", "get-url", source.remote], { ...(env ? { env } : {}), timeoutMs: 30_000 })
      ).stdout.trim();
  const name = url === "" ? undefined : repositoryOfRemoteUrl(url);
  if (name === undefined) {
    throw new WebhookConfigError(
      `--trigger local: give --repository owner/name (remote '${source.remote}' of ${source.repository} ` +
        `${url === "" ? "does not exist" : `is ${url}, which names no owner/name`})`,
    );
  }
  return name;
}
