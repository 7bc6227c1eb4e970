// What the delivery log means: the shape of each record (zod), and the state a replay of the
// records builds (every delivery's view, the queue, the last run number). Deliveries moved to the
// history by compaction (history.ts) are known here by id and outcome only.
import { z } from "zod";

const isoTime = z.iso.datetime({ offset: true });
const idSchema = z.string().min(1);

export const runOutcomeSchema = z.enum(["succeeded", "failed", "triggered", "dry-run", "interrupted"]);
export type RunOutcome = z.infer<typeof runOutcomeSchema>;

export const triggerKindSchema = z.enum(["local", "jenkins"]);

const recordBase = { v: z.literal(1), at: isoTime, id: idSchema };

/** One line of the log. */
export const storeRecordSchema = z.discriminatedUnion("type", [
  z.strictObject({
    ...recordBase,
    type: z.literal("delivery"),
    event: z.string().min(1),
    repository: z.string().nullable(),
    ref: z.string().nullable(),
    branch: z.string().nullable(),
    commit: z.string().nullable(),
    outcome: z.enum(["ping", "ignored", "queued"]),
    reason: z.string().nullable(),
    /** Queued deliveries of the same branch that this one replaced (coalescing). */
    supersedes: z.array(idSchema),
  }),
  z.strictObject({ ...recordBase, type: z.literal("duplicate") }),
  z.strictObject({
    ...recordBase,
    type: z.literal("run-started"),
    run: z.number().int().min(1),
    trigger: triggerKindSchema,
    dryRun: z.boolean(),
    buildTag: z.string().min(1),
  }),
  z.strictObject({
    ...recordBase,
    type: z.literal("run-finished"),
    run: z.number().int().min(1),
    outcome: runOutcomeSchema,
    reason: z.string().nullable(),
    exitCode: z.number().int().nullable().optional(),
    signal: z.string().nullable().optional(),
    queueLocation: z.string().optional(),
    logFile: z.string().optional(),
    plan: z.record(z.string(), z.unknown()).optional(),
  }),
  z.strictObject({ ...recordBase, type: z.literal("requeued"), reason: z.string() }),
]);

export type StoreRecord = z.infer<typeof storeRecordSchema>;
/** A record as callers write it: the store stamps `v` and (unless given) `at`. */
export type NewRecord = StoreRecord extends infer R ? (R extends StoreRecord ? Omit<R, "v" | "at"> & { at?: string } : never) : never;

export const deliveryOutcomeSchema = z.enum([
  "ping",
  "ignored",
  "queued",
  "running",
  "superseded",
  "succeeded",
  "failed",
  "triggered",
  "dry-run",
  "interrupted",
]);
export type DeliveryOutcome = z.infer<typeof deliveryOutcomeSchema>;

export const runViewSchema = z.object({
  run: z.number().int(),
  trigger: triggerKindSchema,
  dryRun: z.boolean(),
  buildTag: z.string(),
  startedAt: isoTime,
  finishedAt: isoTime.nullable(),
  outcome: runOutcomeSchema.nullable(),
  reason: z.string().nullable(),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  queueLocation: z.string().nullable(),
  logFile: z.string().nullable(),
  plan: z.record(z.string(), z.unknown()).nullable(),
});
export type RunView = z.infer<typeof runViewSchema>;

/** A delivery as `runs --json` prints it: what GitHub sent, what became of it, and its runs. */
export const deliveryViewSchema = z.object({
  id: z.string(),
  event: z.string(),
  repository: z.string().nullable(),
  ref: z.string().nullable(),
  branch: z.string().nullable(),
  commit: z.string().nullable(),
  receivedAt: isoTime,
  outcome: deliveryOutcomeSchema,
  reason: z.string().nullable(),
  supersedes: z.array(z.string()),
  supersededBy: z.string().nullable(),
  redeliveries: z.number().int().min(0),
  lastRedeliveryAt: isoTime.nullable(),
  runs: z.array(runViewSchema),
});
export type DeliveryView = z.infer<typeof deliveryViewSchema>;

/** The state the log replays to. Checks each record against it before anything changes. */
/** Outcomes after which nothing more happens to a delivery but redeliveries: compaction archives them. */
export const SETTLED: ReadonlySet<DeliveryOutcome> = new Set([
  "ping",
  "ignored",
  "superseded",
  "succeeded",
  "failed",
  "triggered",
  "dry-run",
] as const);

export class DeliveryState {
  readonly #views = new Map<string, DeliveryView>();
  /** Deliveries in the history (compacted away): id → final outcome. */
  readonly #archived: ReadonlyMap<string, DeliveryOutcome>;
  /** Redeliveries of archived deliveries, in the order recorded (compaction moves them to the history). */
  readonly archivedDuplicates: Array<{ id: string; at: string }> = [];
  /** Queue position of each queued delivery (the position of its delivery record). */
  readonly #queuedAt = new Map<string, number>();
  /** Position of each delivery's own record: a requeued delivery gets its place back. */
  readonly #receivedAt = new Map<string, number>();
  #seq = 0;
  /** The last run number of the records replayed; run numbers in the log must grow. */
  #lastRun = 0;
  /** The last run number when the log was compacted. */
  readonly #compactedLastRun: number;

  constructor(archived: ReadonlyMap<string, DeliveryOutcome> = new Map(), compactedLastRun = 0) {
    this.#archived = archived;
    this.#compactedLastRun = compactedLastRun;
  }

  get lastRun(): number {
    return Math.max(this.#lastRun, this.#compactedLastRun);
  }

  get archivedCount(): number {
    return this.#archived.size;
  }

  has(id: string): boolean {
    return this.#views.has(id) || this.#archived.has(id);
  }

  /** The outcome of any delivery recorded, archived ones included. */
  outcomeOf(id: string): DeliveryOutcome | undefined {
    return this.#views.get(id)?.outcome ?? this.#archived.get(id);
  }

  /** Deliveries in the live log that compaction can archive. */
  settled(): DeliveryView[] {
    return this.list().filter((d) => SETTLED.has(d.outcome));
  }

  get(id: string): DeliveryView | undefined {
    return this.#views.get(id);
  }

  /** Every delivery in the order received. */
  list(): DeliveryView[] {
    return [...this.#views.values()];
  }

  /** Queued deliveries, in the order they are to run. */
  pending(): DeliveryView[] {
    return [...this.#queuedAt.entries()].sort((a, b) => a[1] - b[1]).map(([id]) => this.#views.get(id) as DeliveryView);
  }

  /** Deliveries whose last run started and never finished (the receiver stopped meanwhile). */
  unfinished(): DeliveryView[] {
    return this.list().filter((d) => d.outcome === "running");
  }

  /** Throws (without changing anything) when `record` does not fit the state. */
  check(record: StoreRecord): void {
    const view = this.#views.get(record.id);
    switch (record.type) {
      case "delivery":
        if (this.has(record.id)) throw new Error(`delivery ${record.id} is recorded twice`);
        for (const old of record.supersedes) {
          const target = this.#views.get(old);
          if (!target && this.#archived.get(old) === "superseded") continue;
          if (!target) throw new Error(`supersedes unknown delivery ${old}`);
          if (target.outcome !== "queued") throw new Error(`supersedes delivery ${old}, which is ${target.outcome}, not queued`);
        }
        return;
      case "duplicate":
        if (!this.has(record.id)) throw new Error(`duplicate of unknown delivery ${record.id}`);
        return;
      case "run-started":
        if (!view) throw new Error(`run of unknown delivery ${record.id}`);
        if (view.outcome !== "queued") throw new Error(`run of delivery ${record.id}, which is ${view.outcome}, not queued`);
        if (record.run <= this.#lastRun) throw new Error(`run #${record.run} is not after run #${this.#lastRun}`);
        return;
      case "run-finished": {
        if (!view) throw new Error(`run end of unknown delivery ${record.id}`);
        const last = view.runs.at(-1);
        if (!last || last.run !== record.run || last.finishedAt !== null) {
          throw new Error(`end of run #${record.run} of delivery ${record.id}, which is not running`);
        }
        return;
      }
      case "requeued":
        if (!view) throw new Error(`requeue of unknown delivery ${record.id}`);
        if (view.outcome !== "interrupted") throw new Error(`requeue of delivery ${record.id}, which is ${view.outcome}`);
        return;
    }
  }

  /** A new delivery's view; the deliveries it supersedes leave the queue. */
  #addDelivery(record: Extract<StoreRecord, { type: "delivery" }>): void {
    this.#views.set(record.id, {
      id: record.id,
      event: record.event,
      repository: record.repository,
      ref: record.ref,
      branch: record.branch,
      commit: record.commit,
      receivedAt: record.at,
      outcome: record.outcome,
      reason: record.reason,
      supersedes: [...record.supersedes],
      supersededBy: null,
      redeliveries: 0,
      lastRedeliveryAt: null,
      runs: [],
    });
    for (const old of record.supersedes) {
      const target = this.#views.get(old);
      if (!target) continue; // archived since
      target.outcome = "superseded";
      target.supersededBy = record.id;
      target.reason = `superseded by delivery ${record.id} (commit ${record.commit ?? "?"})`;
      this.#queuedAt.delete(old);
    }
    this.#receivedAt.set(record.id, this.#seq);
    if (record.outcome === "queued") this.#queuedAt.set(record.id, this.#seq);
  }

  apply(record: StoreRecord): void {
    this.check(record);
    this.#seq += 1;
    switch (record.type) {
      case "delivery":
        this.#addDelivery(record);
        return;
      case "duplicate": {
        const view = this.#views.get(record.id);
        if (!view) {
          this.archivedDuplicates.push({ id: record.id, at: record.at });
          return;
        }
        view.redeliveries += 1;
        view.lastRedeliveryAt = record.at;
        return;
      }
      case "run-started": {
        const view = this.#views.get(record.id) as DeliveryView;
        view.outcome = "running";
        view.reason = null;
        view.runs.push({
          run: record.run,
          trigger: record.trigger,
          dryRun: record.dryRun,
          buildTag: record.buildTag,
          startedAt: record.at,
          finishedAt: null,
          outcome: null,
          reason: null,
          exitCode: null,
          signal: null,
          queueLocation: null,
          logFile: null,
          plan: null,
        });
        this.#queuedAt.delete(record.id);
        this.#lastRun = record.run;
        return;
      }
      case "run-finished": {
        const view = this.#views.get(record.id) as DeliveryView;
        const run = view.runs.at(-1) as RunView;
        run.finishedAt = record.at;
        run.outcome = record.outcome;
        run.reason = record.reason;
        run.exitCode = record.exitCode ?? null;
        run.signal = record.signal ?? null;
        run.queueLocation = record.queueLocation ?? null;
        run.logFile = record.logFile ?? null;
        run.plan = record.plan ?? null;
        view.outcome = record.outcome;
        view.reason = record.reason;
        return;
      }
      case "requeued": {
        const view = this.#views.get(record.id) as DeliveryView;
        view.outcome = "queued";
        view.reason = record.reason;
        this.#queuedAt.set(record.id, this.#receivedAt.get(record.id) ?? this.#seq);
        return;
      }
    }
  }
}
