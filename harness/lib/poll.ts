// Polling until a deadline: asks `attempt` again every `intervalMs` until it returns a value or
// the time is up. The one loop behind every "wait until Envoy / Prometheus / a process group ..."
// so that they all stop at their deadline, honour an abort signal and never sleep past the end.
import { setTimeout as sleep } from "node:timers/promises";
import { PipelineError } from "./errors.ts";

export interface PollOptions {
  /** Give up this many milliseconds after the first attempt started. */
  timeoutMs: number;
  /** Pause between attempts (default 200 ms); the last pause is cut short at the deadline. */
  intervalMs?: number;
  signal?: AbortSignal;
}

export class PollTimeout extends PipelineError {
  override name = "PollTimeout";
}

/**
 * Calls `attempt` until it returns something other than undefined and resolves with it; resolves
 * with undefined once `timeoutMs` has passed (after a last attempt at the deadline). Errors thrown
 * by `attempt` end the poll. Rejects with the signal's reason when aborted.
 */
export async function poll<T>(attempt: () => T | undefined | Promise<T | undefined>, opts: PollOptions): Promise<T | undefined> {
  const deadline = performance.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 200;
  for (;;) {
    opts.signal?.throwIfAborted();
    const value = await attempt();
    if (value !== undefined) return value;
    const left = deadline - performance.now();
    if (left <= 0) return undefined;
    try {
      await sleep(Math.min(interval, left), undefined, opts.signal ? { signal: opts.signal } : {});
    } catch (err) {
      opts.signal?.throwIfAborted(); // the signal's own reason, not the timer's AbortError
      throw err;
    }
  }
}

/**
 * Like poll, but rejects at the deadline: with `timeoutError()` when given (it can describe the
 * last state `attempt` saw), else with a PollTimeout naming `what`.
 */
export async function pollUntil<T>(
  attempt: () => T | undefined | Promise<T | undefined>,
  opts: PollOptions & { what?: string; timeoutError?: () => Error },
): Promise<T> {
  const value = await poll(attempt, opts);
  if (value !== undefined) return value;
  throw opts.timeoutError?.() ?? new PollTimeout(`${opts.what ?? "condition"} not met within ${opts.timeoutMs} ms`);
}
