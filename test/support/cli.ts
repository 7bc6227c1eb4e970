// Runs the real CLI (`node --import tsx harness/cli.ts ...`) as a user would, in its own process,
// with output captured; `onStderr` may act on the live process (send it a signal, kill -9 it).
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { repoRoot } from "../../harness/lib/paths.ts";
import { pollUntil as pollDeadline } from "../../harness/lib/poll.ts";

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; onStderr?: (stderr: string, child: ChildProcess) => void } = {},
): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", resolve(repoRoot, "harness/cli.ts"), ...args], {
      cwd: opts.cwd ?? repoRoot,
      env: { ...process.env, BUILD_TAG: "", ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
      opts.onStderr?.(stderr, child);
    });
    child.on("error", fail);
    child.on("close", (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

/** Polls `check` until it returns true; fails after `timeoutMs` with `what`. Resolves with the seconds it took. */
export async function pollUntil(what: string, timeoutMs: number, check: () => Promise<boolean>, everyMs = 500): Promise<number> {
  const t0 = performance.now();
  await pollDeadline(async () => ((await check()) ? true : undefined), {
    timeoutMs,
    intervalMs: everyMs,
    timeoutError: () => new Error(`${what}: not within ${timeoutMs / 1000} s`),
  });
  return (performance.now() - t0) / 1000;
}
