// One pipeline at a time.
// Design notes: docs/webhook.md ("webhook/scheduler.ts").
import { errorMessage } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/log.ts";
import { printable } from "../lib/printable.ts";
import type { DeliveryView } from "./state.ts";
import type { DeliveryStore } from "./store.ts";
import { type RunRequest, type Trigger, buildTag } from "./triggers/types.ts";

export interface PushToRun {
  readonly id: string;
  readonly event: string;
  readonly repository: string;
  readonly ref: string;
  readonly branch: string;
  readonly commit: string;
}

interface QueueEntry {
  readonly id: string;
  readonly repository: string;
  readonly branch: string;
  readonly commit: string;
}

export interface SchedulerOptions {
  readonly store: DeliveryStore;
  readonly trigger: Trigger;
  /** Whether the trigger is a dry run (recorded with each run). */
  readonly dryRun?: boolean;
  readonly log?: Logger;
  /** A run interrupted by a stop or crash is queued again at start-up this many times at most. */
  readonly maxAttempts?: number;
  /** Wait before retrying when the store cannot record a run start. */
  readonly retryDelayMs?: number;
}

/** Whether two pushes land in the same queue slot: same repository (GitHub names ignore case) and branch. */
export function sameSlot(
  a: { repository: string | null; branch: string | null },
  b: { repository: string | null; branch: string | null },
): boolean {
  return a.branch === b.branch && (a.repository ?? "").toLowerCase() === (b.repository ?? "").toLowerCase();
}

function entryOf(view: DeliveryView): QueueEntry {
  if (view.branch === null || view.commit === null || view.repository === null) {
    throw new Error(`queued delivery ${view.id} has no branch, commit or repository`);
  }
  return { id: view.id, repository: view.repository, branch: view.branch, commit: view.commit };
}

export class Scheduler {
  readonly #store: DeliveryStore;
  readonly #trigger: Trigger;
  readonly #dryRun: boolean;
  readonly #log: Logger;
  readonly #maxAttempts: number;
  readonly #retryDelayMs: number;
  #queue: QueueEntry[] = [];
  #current: { entry: QueueEntry; run: number; abort: AbortController; done: Promise<void> } | undefined;
  #loaded = false;
  #started = false;
  #stopping = false;
  #recovering: Promise<void> | undefined;
  readonly #recoverAbort = new AbortController();
  #retryTimer: NodeJS.Timeout | undefined;
  #idleWaiters: Array<() => void> = [];

  constructor(options: SchedulerOptions) {
    this.#store = options.store;
    this.#trigger = options.trigger;
    this.#dryRun = options.dryRun ?? false;
    this.#log = options.log ?? silentLogger;
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#retryDelayMs = options.retryDelayMs ?? 5_000;
  }

  /** Queued deliveries in run order (not the running one). */
  get queued(): readonly string[] {
    return this.#queue.map((e) => e.id);
  }

  /** The delivery being run, if any. */
  get running(): { id: string; run: number } | undefined {
    return this.#current ? { id: this.#current.entry.id, run: this.#current.run } : undefined;
  }

  /**
   * Loads the queue after a restart (call before deliveries arrive): a run that started and never
   * finished is recorded `interrupted` and queued again (unless a newer push of its branch is
   * waiting, or it was tried `maxAttempts` times); every queued delivery is loaded, in order.
   */
  async load(log: Logger = this.#log): Promise<void> {
    if (this.#loaded) return;
    this.#loaded = true;
    const state = this.#store.state;
    for (const view of state.unfinished()) {
      const last = view.runs.at(-1);
      if (!last) continue;
      await this.#store.append({
        type: "run-finished",
        id: view.id,
        run: last.run,
        outcome: "interrupted",
        reason: "the receiver stopped (crash or kill) before the run finished",
      });
      await this.#requeueInterrupted(view.id, log);
    }
    this.#queue = state.pending().map(entryOf);
    if (this.#queue.length > 0) {
      log.info(`resuming ${this.#queue.length} queued deliver${this.#queue.length === 1 ? "y" : "ies"}: ${this.queued.join(", ")}`);
    }
  }

  /**
   * An interrupted run is queued again (durably, in its original place) unless a newer push of its
   * branch is waiting or it has been tried `maxAttempts` times.
   */
  async #requeueInterrupted(id: string, log: Logger = this.#log): Promise<void> {
    const state = this.#store.state;
    const view = state.get(id);
    const last = view?.runs.at(-1);
    if (!view || !last || view.outcome !== "interrupted") return;
    if (state.pending().some((p) => sameSlot(p, view))) {
      log.info(`run #${last.run} (delivery ${id}) was interrupted; a newer push of ${printable(view.branch ?? "")} is queued`);
    } else if (view.runs.length >= this.#maxAttempts) {
      log.warn(`run #${last.run} (delivery ${id}) was interrupted ${view.runs.length} times; not retrying it`);
    } else {
      await this.#store.append({
        type: "requeued",
        id,
        reason: `run #${last.run} was interrupted by a stop of the receiver; queued again`,
      });
      log.info(`run #${last.run} (delivery ${id}) was interrupted; it runs again at the next start`);
    }
  }

  /** Starts running: the trigger recovers (e.g. waits for an orphan of a crash), then the head runs. */
  async start(): Promise<void> {
    await this.load();
    if (this.#started) return;
    this.#started = true;
    this.#recovering = (this.#trigger.recover?.(this.#recoverAbort.signal) ?? Promise.resolve()).catch((err) =>
      this.#log.warn(`trigger recovery failed: ${errorMessage(err)}`),
    );
    void this.#recovering.then(() => {
      this.#recovering = undefined;
      this.#kick();
    });
  }

  /**
   * Records a push as queued, replacing the queued push of the same repository and branch if there is one, and
   * returns the ids it superseded. Resolves once the record is on disk.
   */
  async submit(push: PushToRun): Promise<string[]> {
    if (this.#stopping) throw new Error("the scheduler is stopping");
    if (!this.#loaded) throw new Error("the scheduler has not loaded its queue yet");
    // Take the waiting entry of this slot out of the queue *before* awaiting the store, so that
    // the runner cannot start it meanwhile.
    const index = this.#queue.findIndex((e) => sameSlot(e, push));
    const replaced = index >= 0 ? this.#queue.splice(index, 1) : [];
    try {
      await this.#store.append({
        type: "delivery",
        id: push.id,
        event: push.event,
        repository: push.repository,
        ref: push.ref,
        branch: push.branch,
        commit: push.commit,
        outcome: "queued",
        reason: null,
        supersedes: replaced.map((e) => e.id),
      });
    } catch (err) {
      if (replaced[0]) this.#queue.splice(index, 0, replaced[0]);
      throw err;
    }
    for (const old of replaced) {
      this.#log.info(
        `delivery ${old.id} (${printable(old.branch)} @ ${old.commit.slice(0, 7)}) superseded by ${push.id} (@ ${push.commit.slice(0, 7)})`,
      );
    }
    this.#queue.push({ id: push.id, repository: push.repository, branch: push.branch, commit: push.commit });
    this.#kick();
    return replaced.map((e) => e.id);
  }

  #kick(): void {
    if (!this.#started || this.#stopping || this.#current || this.#recovering || this.#retryTimer) {
      this.#notifyIdle();
      return;
    }
    const entry = this.#queue.shift();
    if (!entry) {
      this.#notifyIdle();
      return;
    }
    const run = this.#store.state.lastRun + 1;
    const abort = new AbortController();
    const done = this.#run(entry, run, abort.signal).finally(() => {
      this.#current = undefined;
      this.#kick();
    });
    this.#current = { entry, run, abort, done };
  }

  async #run(entry: QueueEntry, run: number, signal: AbortSignal): Promise<void> {
    const request: RunRequest = {
      deliveryId: entry.id,
      repository: entry.repository,
      branch: entry.branch,
      commit: entry.commit,
      run,
      buildTag: buildTag(entry.commit, run),
    };
    try {
      await this.#store.append({
        type: "run-started",
        id: entry.id,
        run,
        trigger: this.#trigger.kind,
        dryRun: this.#dryRun,
        buildTag: request.buildTag,
      });
    } catch (err) {
      this.#log.warn(`cannot record the start of run #${run}: ${errorMessage(err)}; retrying in ${this.#retryDelayMs} ms`);
      this.#queue.unshift(entry);
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        this.#kick();
      }, this.#retryDelayMs);
      return;
    }
    this.#log.info(
      `run #${run}: ${this.#dryRun ? "dry run of " : ""}${this.#trigger.kind} pipeline ` +
        `for ${printable(entry.repository)} ${printable(entry.branch)} @ ${entry.commit.slice(0, 7)} (delivery ${entry.id})`,
    );
    const result = await this.#trigger.run(request, signal).catch((err: unknown) => ({
      outcome: "failed" as const,
      reason: `the ${this.#trigger.kind} trigger threw: ${errorMessage(err)}`,
    }));
    this.#log.info(`run #${run}: ${result.outcome}${result.reason ? ` (${printable(result.reason)})` : ""}`);
    try {
      await this.#store.append({
        type: "run-finished",
        id: entry.id,
        run,
        outcome: result.outcome,
        reason: result.reason,
        ...("exitCode" in result && result.exitCode !== undefined ? { exitCode: result.exitCode } : {}),
        ...("signal" in result && result.signal !== undefined ? { signal: result.signal } : {}),
        ...("queueLocation" in result && result.queueLocation !== undefined ? { queueLocation: result.queueLocation } : {}),
        ...("logFile" in result && result.logFile !== undefined ? { logFile: result.logFile } : {}),
        ...("plan" in result && result.plan !== undefined ? { plan: result.plan } : {}),
      });
    } catch (err) {
      // The run stays `running` in the log; the next start-up records it as interrupted.
      this.#log.warn(`cannot record the end of run #${run}: ${errorMessage(err)}`);
      return;
    }
    if (result.outcome === "interrupted") {
      await this.#requeueInterrupted(entry.id).catch((err: unknown) =>
        this.#log.warn(`cannot queue delivery ${entry.id} again: ${errorMessage(err)}`),
      );
    }
  }

  #notifyIdle(): void {
    if (this.#current || this.#recovering || (this.#queue.length > 0 && !this.#stopping)) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when nothing runs and nothing is queued (or, when stopping, nothing runs). */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.#idleWaiters.push(resolve);
      this.#notifyIdle();
    });
  }

  /** Kills (aborts) the running pipeline, if any; it is recorded `interrupted`. */
  abortRunning(): void {
    this.#recoverAbort.abort();
    this.#current?.abort.abort();
  }

  /**
   * Starts nothing new and waits for the running pipeline to finish. Queued deliveries stay
   * recorded as queued and resume at the next start.
   */
  async stop(options: { kill?: boolean } = {}): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (options.kill) this.abortRunning();
    this.#recoverAbort.abort();
    await this.#recovering;
    await this.#current?.done;
    this.#notifyIdle();
  }
}
