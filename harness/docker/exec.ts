// Running external commands (docker, apt-get, debootstrap, npm, pip, mvn) with their output
// captured, an optional time limit, and errors that say which command failed and what it printed.
import { spawn, type SpawnOptions } from "node:child_process";

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

export class CommandError extends Error {
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

/** Runs a command to completion. Never rejects for a non-zero exit: look at `code`. */
export function runCommand(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const max = opts.maxOutput ?? 1 << 20;
  return new Promise((resolvePromise, reject) => {
    const spawnOpts: SpawnOptions = {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: opts.timeoutMs !== undefined,
    };
    const child = spawn(cmd, args, spawnOpts);
    let stdout = "";
    let stderr = "";
    const partial = { stdout: "", stderr: "" };
    const feed = (stream: "stdout" | "stderr", chunk: string): void => {
      if (stream === "stdout") stdout = (stdout + chunk).slice(-max);
      else stderr = (stderr + chunk).slice(-max);
      if (!opts.onLine) return;
      const text = partial[stream] + chunk;
      const lines = text.split(/\r?\n/);
      partial[stream] = lines.pop() ?? "";
      for (const line of lines) opts.onLine(line, stream);
    };
    child.stdout?.setEncoding("utf8").on("data", (c: string) => feed("stdout", c));
    child.stderr?.setEncoding("utf8").on("data", (c: string) => feed("stderr", c));
    let timedOut = false;
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            try {
              if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
            } catch {
              child.kill("SIGKILL");
            }
          }, opts.timeoutMs);
    child.on("error", (err) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`cannot run \`${showCommand(cmd, args)}\`: ${err.message}`));
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      if (opts.onLine) {
        if (partial.stdout !== "") opts.onLine(partial.stdout, "stdout");
        if (partial.stderr !== "") opts.onLine(partial.stderr, "stderr");
      }
      if (timedOut) stderr += `\n(killed after ${((opts.timeoutMs ?? 0) / 1000).toFixed(0)} s)`;
      else if (signal) stderr += `\n(killed by ${signal})`;
      resolvePromise({ code: code ?? 128, stdout, stderr });
    });
    child.stdin?.on("error", () => undefined); // the command may exit without reading its input
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
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
