// --dry-run: records what the configured trigger would do, without doing it.
import type { RunRequest, RunResult, Trigger } from "./types.ts";

export class DryRunTrigger implements Trigger {
  readonly #inner: Trigger;

  constructor(inner: Trigger) {
    this.#inner = inner;
  }

  get kind(): Trigger["kind"] {
    return this.#inner.kind;
  }

  describe(request: RunRequest): Record<string, unknown> {
    return this.#inner.describe(request);
  }

  async run(request: RunRequest): Promise<RunResult> {
    return {
      outcome: "dry-run",
      reason: `dry run: the ${this.#inner.kind} trigger was not called`,
      plan: this.#inner.describe(request),
    };
  }
}
