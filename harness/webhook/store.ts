// The delivery store: an append-only JSON Lines log, one record per line, each append written with
// a single write() and fdatasync()ed before the caller goes on (the receiver answers GitHub only
// after that). The current state of every delivery is the replay of the log.
//
// Why a log rather than a JSON file rewritten with write-temp + rename + fsync:
// - an append costs one small write and one fdatasync whatever the history length; a rewrite costs
//   the whole file plus an fsync of the file and of the directory for every delivery;
// - it keeps the full history (each redelivery, each run start and end) for `runs` and audits;
// - a crash can only leave a torn *last* line (a record that was never acknowledged, so GitHub saw
//   the delivery fail and will show it for redelivery). The receiver that owns the state cuts
//   that tail off at start-up; every complete line is then parsed with zod, and a line that does
//   not parse is an error naming the file, the line and the field.
import { constants as fsConstants } from "node:fs";
import { mkdir, open, readFile, rm, truncate, writeFile, type FileHandle } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { z } from "zod";
import { errorMessage, formatIssues } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/log.ts";
import { StateError } from "./errors.ts";
import { type StatePaths, statePaths } from "./paths.ts";

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
export class DeliveryState {
  readonly #views = new Map<string, DeliveryView>();
  /** Queue position of each queued delivery (the position of its delivery record). */
  readonly #queuedAt = new Map<string, number>();
  /** Position of each delivery's own record: a requeued delivery gets its place back. */
  readonly #receivedAt = new Map<string, number>();
  #seq = 0;
  #lastRun = 0;

  get lastRun(): number {
    return this.#lastRun;
  }

  has(id: string): boolean {
    return this.#views.has(id);
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
        if (view) throw new Error(`delivery ${record.id} is recorded twice`);
        for (const old of record.supersedes) {
          const target = this.#views.get(old);
          if (!target) throw new Error(`supersedes unknown delivery ${old}`);
          if (target.outcome !== "queued") throw new Error(`supersedes delivery ${old}, which is ${target.outcome}, not queued`);
        }
        return;
      case "duplicate":
        if (!view) throw new Error(`duplicate of unknown delivery ${record.id}`);
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

  apply(record: StoreRecord): void {
    this.check(record);
    this.#seq += 1;
    switch (record.type) {
      case "delivery": {
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
          const target = this.#views.get(old) as DeliveryView;
          target.outcome = "superseded";
          target.supersededBy = record.id;
          target.reason = `superseded by delivery ${record.id} (commit ${record.commit ?? "?"})`;
          this.#queuedAt.delete(old);
        }
        this.#receivedAt.set(record.id, this.#seq);
        if (record.outcome === "queued") this.#queuedAt.set(record.id, this.#seq);
        return;
      }
      case "duplicate": {
        const view = this.#views.get(record.id) as DeliveryView;
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

interface LogContents {
  state: DeliveryState;
  /** Bytes after the last newline: a record torn by a crash (or being written right now). */
  tornBytes: number;
  /** Length of the complete lines. */
  completeLength: number;
}

/** Reads and replays the log; a missing file is an empty state. */
async function readLog(file: string): Promise<LogContents> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { state: new DeliveryState(), tornBytes: 0, completeLength: 0 };
    throw new StateError(`cannot read ${file}: ${errorMessage(err)}`);
  }
  const completeLength = data.lastIndexOf(0x0a) + 1;
  const state = new DeliveryState();
  const lines = data.subarray(0, completeLength).toString("utf8").split("\n");
  lines.pop(); // after the last newline
  lines.forEach((line, index) => {
    const where = `${file}:${index + 1}`;
    if (line.trim() === "") throw new StateError(`${where}: empty line`);
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (err) {
      throw new StateError(`${where}: not valid JSON (${errorMessage(err)})`);
    }
    const parsed = storeRecordSchema.safeParse(json);
    if (!parsed.success) throw new StateError(`${where}: ${formatIssues(parsed.error)}`);
    try {
      state.apply(parsed.data);
    } catch (err) {
      throw new StateError(`${where}: ${errorMessage(err)}`);
    }
  });
  return { state, tornBytes: data.length - completeLength, completeLength };
}

/** Read-only view of a state directory (for `runs`): never repairs, never locks. */
export async function readDeliveries(stateDir: string): Promise<{ file: string; deliveries: DeliveryView[] }> {
  const paths = statePaths(stateDir);
  const { state } = await readLog(paths.log);
  return { file: paths.log, deliveries: state.list() };
}

const lockSchema = z.object({ pid: z.number().int().positive(), host: z.string(), startedAt: z.string() });

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, fsConstants.O_RDONLY);
    await fh.sync();
  } catch {
    // Some platforms cannot fsync a directory; the data itself is still synced.
  } finally {
    await fh?.close();
  }
}

async function acquireLock(file: string, log: Logger): Promise<void> {
  const mine = JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, `${mine}\n`, { flag: "wx" });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new StateError(`cannot create ${file}: ${errorMessage(err)}`);
    }
    const text = await readFile(file, "utf8").catch(() => "");
    let holder: z.infer<typeof lockSchema> | undefined;
    try {
      const parsed = lockSchema.safeParse(JSON.parse(text));
      if (parsed.success) holder = parsed.data;
      else log.warn(`${file}: ${formatIssues(parsed.error)}; treating the lock as stale`);
    } catch {
      log.warn(`${file}: not JSON; treating the lock as stale`);
    }
    if (holder && (holder.host !== hostname() || processAlive(holder.pid))) {
      throw new StateError(
        `${dirname(file)} is in use by another receiver (pid ${holder.pid} on ${holder.host}, since ${holder.startedAt}); ` +
          "stop it or give this one another --state-dir",
      );
    }
    if (holder) log.warn(`taking over the state of receiver pid ${holder.pid}, which is gone`);
    await rm(file, { force: true });
  }
  throw new StateError(`could not take the lock ${file}`);
}

/** The receiver's store: owns the state directory (lock file) and appends durably. */
export class DeliveryStore {
  readonly paths: StatePaths;
  readonly #state: DeliveryState;
  readonly #fh: FileHandle;
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(paths: StatePaths, state: DeliveryState, fh: FileHandle) {
    this.paths = paths;
    this.#state = state;
    this.#fh = fh;
  }

  /**
   * Takes the state directory: creates it, locks it against a second receiver, cuts a torn last
   * line left by a crash, and replays the log (any bad complete line is a StateError).
   */
  static async open(stateDir: string, log: Logger = silentLogger): Promise<DeliveryStore> {
    const paths = statePaths(stateDir);
    try {
      await mkdir(paths.runLogs, { recursive: true });
    } catch (err) {
      throw new StateError(`cannot create ${paths.runLogs}: ${errorMessage(err)}`);
    }
    await acquireLock(paths.lock, log);
    try {
      const contents = await readLog(paths.log);
      if (contents.tornBytes > 0) {
        log.warn(
          `${paths.log}: dropping a partial last record (${contents.tornBytes} bytes) left by a crash; ` +
            "it was never acknowledged, so GitHub shows that delivery as failed and it can be redelivered",
        );
        await truncate(paths.log, contents.completeLength);
      }
      const fh = await open(paths.log, "a");
      await fh.sync();
      await fsyncDir(paths.dir);
      return new DeliveryStore(paths, contents.state, fh);
    } catch (err) {
      await rm(paths.lock, { force: true });
      throw err;
    }
  }

  get state(): DeliveryState {
    return this.#state;
  }

  /** Appends one record and returns once it is on disk; state views change only after that. */
  append(record: NewRecord): Promise<StoreRecord> {
    const result = this.#chain.then(() => this.#write(record));
    this.#chain = result.catch(() => undefined);
    return result;
  }

  async #write(input: NewRecord): Promise<StoreRecord> {
    if (this.#closed) throw new StateError("the delivery store is closed");
    const candidate = { v: 1, at: new Date().toISOString(), ...input };
    const parsed = storeRecordSchema.safeParse(candidate);
    if (!parsed.success) throw new StateError(`refusing to write an invalid record: ${formatIssues(parsed.error)}`);
    const record = parsed.data;
    this.#state.check(record);
    const bytes = Buffer.from(`${JSON.stringify(record)}\n`, "utf8");
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesWritten } = await this.#fh.write(bytes, offset, bytes.length - offset);
      offset += bytesWritten;
    }
    await this.#fh.datasync();
    this.#state.apply(record);
    return record;
  }

  /** Waits for pending appends, closes the log and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#chain;
    this.#closed = true;
    await this.#fh.close();
    await rm(this.paths.lock, { force: true });
  }
}
