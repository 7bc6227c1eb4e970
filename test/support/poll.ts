// Waiting on observed state in integration tests: ask until the answer is what we want or a
// deadline passes, then fail naming what was last seen. Never a blind sleep. The loop itself is
// harness/lib/poll.ts; this adds the "last seen" description to the failure.
import { pollUntil as pollWithDeadline } from "../../harness/lib/poll.ts";

/**
 * Calls `read` until it returns a value other than undefined; rejects after `timeoutMs` with
 * `what` and the last description `read` gave through `seen`.
 */
export async function pollUntil<T>(
  what: string,
  read: (seen: (description: string) => void) => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  let last = "nothing yet";
  const seen = (description: string): void => {
    last = description;
  };
  return pollWithDeadline(() => read(seen), {
    timeoutMs: opts.timeoutMs,
    intervalMs: opts.intervalMs ?? 200,
    timeoutError: () => new Error(`${what}: not within ${opts.timeoutMs} ms (last seen: ${last})`),
  });
}
