// Compaction of the delivery log, so that start-up does not replay all of history.
// Design notes: docs/webhook.md ("webhook/history.ts").
import { open, readFile, rename, truncate } from "node:fs/promises";
import { z } from "zod";
import { errorMessage } from "../lib/errors.ts";
import { StateError } from "./errors.ts";
import type { StatePaths } from "./paths.ts";
import { type DeliveryOutcome, type DeliveryState, type DeliveryView, type StoreRecord, deliveryOutcomeSchema } from "./state.ts";

/** The first line of a compacted live log. */
export const headerSchema = z.strictObject({
  v: z.literal(1),
  type: z.literal("compacted"),
  at: z.iso.datetime({ offset: true }),
  historyBytes: z.number().int().min(0),
  indexBytes: z.number().int().min(0),
  lastRun: z.number().int().min(0),
});
export type LogHeader = z.infer<typeof headerSchema>;

export const EMPTY_HEADER: LogHeader = {
  v: 1,
  type: "compacted",
  at: new Date(0).toISOString(),
  historyBytes: 0,
  indexBytes: 0,
  lastRun: 0,
};

/** Settled deliveries in the live log before a compaction is done (at start-up and after appends). */
export const COMPACT_AFTER = 1_000;

const FILE_MODE = 0o600;

async function sizeOf(file: string): Promise<number> {
  const fh = await open(file, "a", FILE_MODE);
  try {
    return (await fh.stat()).size;
  } finally {
    await fh.close();
  }
}

/** Cuts a history file back to what the live log's header says; shorter than that is a lost history. */
async function trimTo(file: string, bytes: number): Promise<void> {
  const size = await sizeOf(file);
  if (size < bytes) throw new StateError(`${file} has ${size} bytes; the delivery log says ${bytes}: the history was cut`);
  if (size > bytes) await truncate(file, bytes);
}

/** Archived ids and outcomes, after cutting back what an interrupted compaction appended. */
export async function readArchive(paths: StatePaths, header: LogHeader, repair: boolean): Promise<Map<string, DeliveryOutcome>> {
  if (repair) {
    await trimTo(paths.history, header.historyBytes);
    await trimTo(paths.historyIndex, header.indexBytes);
  }
  const archived = new Map<string, DeliveryOutcome>();
  if (header.indexBytes === 0) return archived;
  const text = (await readFile(paths.historyIndex)).subarray(0, header.indexBytes).toString("utf8");
  let start = 0;
  while (start < text.length) {
    const end = text.indexOf("\n", start);
    const space = text.indexOf(" ", start);
    if (end < 0 || space < 0 || space > end) throw new StateError(`${paths.historyIndex}: malformed line at byte ${start}`);
    archived.set(text.slice(start, space), text.slice(space + 1, end) as DeliveryOutcome);
    start = end + 1;
  }
  return archived;
}

/** Every archived delivery's final view, redeliveries counted, in the order received (for `runs`). */
export async function readHistory(paths: StatePaths, header: LogHeader): Promise<Map<string, DeliveryView>> {
  const views = new Map<string, DeliveryView>();
  if (header.historyBytes === 0) return views;
  const text = (await readFile(paths.history)).subarray(0, header.historyBytes).toString("utf8");
  text
    .split("\n")
    .filter((l) => l !== "")
    .forEach((line, i) => {
      let json: { duplicate?: string; at?: string; id?: string };
      try {
        json = JSON.parse(line);
      } catch (err) {
        throw new StateError(`${paths.history}:${i + 1}: not valid JSON (${errorMessage(err)})`);
      }
      if (json.duplicate !== undefined) {
        const view = views.get(json.duplicate);
        if (view) {
          view.redeliveries += 1;
          view.lastRedeliveryAt = json.at ?? null;
        }
      } else views.set(json.id as string, json as DeliveryView);
    });
  return views;
}

async function appendSynced(file: string, text: string): Promise<number> {
  const fh = await open(file, "a", FILE_MODE);
  try {
    if (text !== "") await fh.write(text);
    await fh.datasync();
    return (await fh.stat()).size;
  } finally {
    await fh.close();
  }
}

/**
 * Moves the settled deliveries of `state` (replayed from `records`) to the history and rewrites the
 * live log with the rest. Returns the new header and the records kept; the caller reopens the log.
 */
export async function compact(
  paths: StatePaths,
  state: DeliveryState,
  records: readonly StoreRecord[],
): Promise<{ header: LogHeader; kept: StoreRecord[] }> {
  const settled = state.settled();
  const gone = new Set(settled.map((d) => d.id));
  const history = [
    ...settled.map((d) => JSON.stringify(d)),
    ...state.archivedDuplicates.map((d) => JSON.stringify({ duplicate: d.id, at: d.at })),
  ];
  const index = settled.map((d) => `${d.id} ${deliveryOutcomeSchema.parse(d.outcome)}`);
  const historyBytes = await appendSynced(paths.history, history.map((l) => `${l}\n`).join(""));
  const indexBytes = await appendSynced(paths.historyIndex, index.map((l) => `${l}\n`).join(""));
  const archivedIds = new Set(state.archivedDuplicates.map((d) => d.id));
  const kept = records.filter((r) => !gone.has(r.id) && !(r.type === "duplicate" && archivedIds.has(r.id) && !state.get(r.id)));
  const header: LogHeader = { v: 1, type: "compacted", at: new Date().toISOString(), historyBytes, indexBytes, lastRun: state.lastRun };
  const temp = `${paths.log}.compacting`;
  const fh = await open(temp, "w", FILE_MODE);
  try {
    await fh.write([header, ...kept].map((r) => `${JSON.stringify(r)}\n`).join(""));
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(temp, paths.log);
  return { header, kept };
}
