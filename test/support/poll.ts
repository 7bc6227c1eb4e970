// Waiting on observed state in integration tests: ask until the answer is what we want or a
// deadline passes, then fail naming what was last seen. Never a blind sleep.
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Calls `read` until it returns a value other than undefined; rejects after `timeoutMs` with
 * `what` and the last description `read` gave through `seen`.
 */
export async function pollUntil<T>(
  what: string,
  read: (seen: (description: string) => void) => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = "nothing yet";
  const seen = (description: string): void => {
    last = description;
  };
  for (;;) {
    const value = await read(seen);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${opts.timeoutMs} ms (last seen: ${last})`);
    await sleep(opts.intervalMs ?? 200);
  }
}
