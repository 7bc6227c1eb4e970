// Running external commands (docker, apt-get, debootstrap, npm, pip, mvn) with their output
// captured, an optional time limit, and errors that say which command failed and what it printed.
import { runProcess } from "../lib/process.ts";
import { PipelineError } from "../lib/errors.ts";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to the command's stdin, which is closed afterwards. */
  input?: string | Buffer;
  /** Kill the command (SIGKILL to its process group) after this many milliseconds. */
  timeoutMs?: number;
  /** Called with every complete line of stdout and stderr as it arrives. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** Keep at most this many characters of each stream (the tail); default 1 MiB. */
  maxOutput?: number;
}

export class CommandError extends PipelineError {
  override name = "CommandError";
  constructor(
    readonly command: string,
    readonly result: CommandResult,
    what?: string,
  ) {
    const tail = lastLines(result.stderr.trim() !== "" ? result.stderr : result.stdout, 12);
    super(`${what ?? `\`${command}\``} failed (exit ${result.code})${tail !== "" ? `:\n${tail}` : ""}`);
  }
}

/** The last `n` non-empty lines of `text`, each trimmed on the right. */
export function lastLines(text: string, n: number): string {
  return text
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l !== "")
    .slice(-n)
    .join("\n");
}

/** Quotes a command line for messages (not for a shell). */
export function showCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}

/** Runs a command to completion (in its own process group). Never rejects for a non-zero exit: look at `code`. */
export async function runCommand(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const r = await runProcess(cmd, args, {
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.env !== undefined ? { env: opts.env } : {}),
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(opts.onLine !== undefined ? { onLine: opts.onLine } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    maxOutput: opts.maxOutput ?? 1 << 20,
    // A time limit needs a group of its own to kill; otherwise the command stays in ours, so a
    // Ctrl-C in the terminal reaches it as before.
    ownGroup: opts.timeoutMs !== undefined,
    killGraceMs: 0,
  });
  if (r.spawnError) throw new Error(`cannot run \`${showCommand(cmd, args)}\`: ${r.spawnError.message}`);
  let stderr = r.stderr;
  if (r.timedOut) stderr += `\n(killed after ${((opts.timeoutMs ?? 0) / 1000).toFixed(0)} s)`;
  else if (r.signal) stderr += `\n(killed by ${r.signal})`;
  return { code: r.code ?? 128, stdout: r.stdout, stderr };
}

/** Runs a command and rejects with a CommandError unless it exits 0. */
export async function mustRun(cmd: string, args: readonly string[], opts: RunOptions & { what?: string } = {}): Promise<CommandResult> {
  const result = await runCommand(cmd, args, opts);
  if (result.code !== 0) throw new CommandError(showCommand(cmd, args), result, opts.what);
  return result;
}

/** Whether `cmd` can be run at all (it is on PATH and executable). */
export async function commandExists(cmd: string): Promise<boolean> {
  try {
    const r = await runCommand("sh", ["-c", `command -v "$1" >/dev/null 2>&1`, "sh", cmd], { timeoutMs: 10_000 });
    return r.code === 0;
  } catch {
    return false;
  }
}
