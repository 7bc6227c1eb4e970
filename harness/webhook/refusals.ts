// Refused deliveries (401, and 503 when the receiver is full) in the log without letting a flood
// of them flood the log: the first refusal of an interval is written at once, the others are
// counted and summed up in one line when the interval ends.
import type { Logger } from "../lib/log.ts";
import { printable } from "../lib/printable.ts";

export class RefusalLog {
  readonly #log: Logger;
  readonly #intervalMs: number;
  #counts = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(log: Logger, intervalMs = 60_000) {
    this.#log = log;
    this.#intervalMs = intervalMs;
  }

  /** Records one refusal: `status` and why (untrusted text is escaped). */
  note(status: number, reason: string): void {
    const key = `${status}: ${printable(reason)}`;
    if (this.#timer === undefined) {
      this.#log.warn(`refused a delivery (${key}); further refusals are summed up every ${this.#intervalMs / 1000} s`);
      this.#timer = setTimeout(() => this.flush(), this.#intervalMs);
      this.#timer.unref();
      return;
    }
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  /** Writes the summary of the refusals counted since the last line (if any) and starts over. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#counts.size === 0) return;
    const total = [...this.#counts.values()].reduce((a, b) => a + b, 0);
    const parts = [...this.#counts.entries()].map(([key, n]) => `${n} × ${key}`);
    this.#counts = new Map();
    this.#log.warn(`refused ${total} more deliver${total === 1 ? "y" : "ies"}: ${parts.join("; ")}`);
    // The next refusal opens a new interval (and is written at once).
  }
}
