// The delivery store: an append-only JSON Lines log, one record per line, each append written with a single
// write() and fdatasync()ed before the caller goes on (the receiver answers GitHub only after that).
// Design notes: docs/webhook.md ("webhook/store.ts").
import { constants as fsConstants } from "node:fs";
import { chmod, mkdir, open, readFile, rm, truncate, writeFile, type FileHandle } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { z } from "zod";
import { errorMessage, formatIssues } from "../lib/errors.ts";
import { type Logger, silentLogger } from "../lib/log.ts";
import { StateError } from "./errors.ts";
import { COMPACT_AFTER, EMPTY_HEADER, type LogHeader, compact, headerSchema, readArchive, readHistory } from "./history.ts";
import { type StatePaths, statePaths } from "./paths.ts";
import { DeliveryState, type DeliveryView, type NewRecord, type StoreRecord, storeRecordSchema } from "./state.ts";

interface LogContents {
  header: LogHeader;
  state: DeliveryState;
  /** The records of the live log, in order (compaction rewrites the log from them). */
  records: StoreRecord[];
  /** Bytes after the last newline: a record torn by a crash (or being written right now). */
  tornBytes: number;
  /** Length of the complete lines. */
  completeLength: number;
}

function parseLine(line: string, where: string): unknown {
  if (line.trim() === "") throw new StateError(`${where}: empty line`);
  try {
    return JSON.parse(line);
  } catch (err) {
    throw new StateError(`${where}: not valid JSON (${errorMessage(err)})`);
  }
}

/**
 * Reads the live log (its header, the archive's ids) and replays it; a missing file is an empty
 * state. `repair`: cut the history files back to the header (only the receiver owning the state).
 */
async function readLog(paths: StatePaths, repair: boolean): Promise<LogContents> {
  const file = paths.log;
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new StateError(`cannot read ${file}: ${errorMessage(err)}`);
    data = Buffer.alloc(0);
  }
  const completeLength = data.lastIndexOf(0x0a) + 1;
  const lines = data.subarray(0, completeLength).toString("utf8").split("\n");
  lines.pop(); // after the last newline
  let header = EMPTY_HEADER;
  let first = 0;
  if (lines[0]?.includes('"type":"compacted"')) {
    const parsed = headerSchema.safeParse(parseLine(lines[0], `${file}:1`));
    if (!parsed.success) throw new StateError(`${file}:1: ${formatIssues(parsed.error)}`);
    header = parsed.data;
    first = 1;
  }
  const state = new DeliveryState(await readArchive(paths, header, repair), header.lastRun);
  const records: StoreRecord[] = [];
  for (let index = first; index < lines.length; index++) {
    const where = `${file}:${index + 1}`;
    const parsed = storeRecordSchema.safeParse(parseLine(lines[index] as string, where));
    if (!parsed.success) throw new StateError(`${where}: ${formatIssues(parsed.error)}`);
    try {
      state.apply(parsed.data);
    } catch (err) {
      throw new StateError(`${where}: ${errorMessage(err)}`);
    }
    records.push(parsed.data);
  }
  return { header, state, records, tornBytes: data.length - completeLength, completeLength };
}

/** Read-only view of a state directory (for `runs`): the history, then the live log; never repairs, never locks. */
export async function readDeliveries(stateDir: string): Promise<{ file: string; deliveries: DeliveryView[] }> {
  const paths = statePaths(stateDir);
  const { header, state } = await readLog(paths, false);
  const archived = await readHistory(paths, header);
  for (const d of state.archivedDuplicates) {
    const view = archived.get(d.id);
    if (view) {
      view.redeliveries += 1;
      view.lastRedeliveryAt = d.at;
    }
  }
  return { file: paths.log, deliveries: [...archived.values(), ...state.list()] };
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
      await writeFile(file, `${mine}\n`, { flag: "wx", mode: 0o600 });
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
/** State files are private to the receiver's user (they name repositories, commits, run logs). */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

async function openLog(file: string): Promise<FileHandle> {
  const fh = await open(file, "a", FILE_MODE);
  await fh.chmod(FILE_MODE);
  return fh;
}

/** The receiver's store: owns the state directory (lock file) and appends durably. */
export class DeliveryStore {
  readonly paths: StatePaths;
  #state: DeliveryState;
  #records: StoreRecord[];
  #fh: FileHandle;
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly #compactAfter: number;

  private constructor(paths: StatePaths, contents: LogContents, fh: FileHandle, compactAfter: number) {
    this.paths = paths;
    this.#compactAfter = compactAfter;
    this.#state = contents.state;
    this.#records = contents.records;
    this.#fh = fh;
  }

  /**
   * Takes the state directory: creates it (0700), locks it against a second receiver, cuts a torn
   * last line left by a crash, replays the log (any bad complete line is a StateError), and
   * compacts it when it holds many settled deliveries.
   */
  static async open(stateDir: string, log: Logger = silentLogger, options: { compactAfter?: number } = {}): Promise<DeliveryStore> {
    const paths = statePaths(stateDir);
    const compactAfter = options.compactAfter ?? COMPACT_AFTER;
    try {
      await mkdir(paths.runLogs, { recursive: true, mode: DIR_MODE });
      await chmod(paths.dir, DIR_MODE);
      await chmod(paths.runLogs, DIR_MODE);
    } catch (err) {
      throw new StateError(`cannot create ${paths.runLogs}: ${errorMessage(err)}`);
    }
    await acquireLock(paths.lock, log);
    try {
      let contents = await readLog(paths, true);
      if (contents.tornBytes > 0) {
        log.warn(
          `${paths.log}: dropping a partial last record (${contents.tornBytes} bytes) left by a crash; ` +
            "it was never acknowledged, so GitHub shows that delivery as failed and it can be redelivered",
        );
        await truncate(paths.log, contents.completeLength);
      }
      if (contents.state.settled().length >= compactAfter) {
        await compact(paths, contents.state, contents.records);
        contents = await readLog(paths, false);
      }
      const fh = await openLog(paths.log);
      await fh.sync();
      await fsyncDir(paths.dir);
      return new DeliveryStore(paths, contents, fh, compactAfter);
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
    this.#records.push(record);
    if (this.#state.settled().length >= this.#compactAfter) await this.#compact();
    return record;
  }

  /** Moves settled deliveries to the history; the record just written is already on disk, whatever happens here. */
  async #compact(): Promise<void> {
    await compact(this.paths, this.#state, this.#records);
    await fsyncDir(this.paths.dir);
    const contents = await readLog(this.paths, false);
    await this.#fh.close();
    this.#fh = await openLog(this.paths.log);
    this.#state = contents.state;
    this.#records = contents.records;
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
