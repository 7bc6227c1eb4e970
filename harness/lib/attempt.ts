// A value or why it could not be had, so one failing source does not stop the work beside it.
import { errorLine } from "./errors.ts";

export type Attempt<T> = { ok: true; value: T } | { ok: false; error: string };

/** Runs `work`; a throw becomes `{ ok: false, error }`, its first line prefixed with `what: ` when given. */
export async function attempt<T>(work: () => Promise<T>, what?: string): Promise<Attempt<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (err) {
    return { ok: false, error: what === undefined ? errorLine(err) : `${what}: ${errorLine(err)}` };
  }
}

/** The value of `promise` if it has already settled (fulfilled), else undefined; never waits for it. */
export async function ifSettled<T>(promise: Promise<T>): Promise<T | undefined> {
  const pending = Symbol("pending");
  const first = await Promise.race([promise, Promise.resolve(pending)]);
  return first === pending ? undefined : (first as T);
}
