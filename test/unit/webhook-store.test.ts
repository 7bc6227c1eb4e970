import assert from "node:assert/strict";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { afterEach, beforeEach, describe, it } from "vitest";
import { StateError } from "../../harness/webhook/errors.ts";
import { statePaths } from "../../harness/webhook/paths.ts";
import { DeliveryStore, readDeliveries } from "../../harness/webhook/store.ts";
import { sha, tempDir } from "../fixtures/webhook/helpers.ts";

const push = (id: string, n: number, supersedes: string[] = [], branch = "main") =>
  ({
    type: "delivery",
    id,
    event: "push",
    repository: "o/r",
    ref: `refs/heads/${branch}`,
    branch,
    commit: sha(n),
    outcome: "queued",
    reason: null,
    supersedes,
  }) as const;

describe("DeliveryStore", () => {
  let dir: { path: string; cleanup: () => void };
  const warnings: string[] = [];
  const log = { info: () => undefined, warn: (m: string) => warnings.push(m) };
  beforeEach(() => {
    dir = tempDir();
    warnings.length = 0;
  });
  afterEach(() => dir.cleanup());

  it("writes one fsynced JSON line per record and replays them after a reopen", async () => {
    const store = await DeliveryStore.open(dir.path, log);
    await store.append(push("d1", 1));
    await store.append({ type: "run-started", id: "d1", run: 1, trigger: "local", dryRun: false, buildTag: "t-1" });
    await store.append(push("d2", 2));
    await store.append(push("d3", 3, ["d2"]));
    await store.append({ type: "duplicate", id: "d1" });
    await store.append({ type: "run-finished", id: "d1", run: 1, outcome: "succeeded", reason: null, exitCode: 0, logFile: "/x.log" });
    await store.close();

    const lines = readFileSync(statePaths(dir.path).log, "utf8").split("\n");
    assert.equal(lines.length, 7, "six lines and the final newline");
    assert.equal(lines.at(-1), "");
    for (const line of lines.slice(0, -1)) assert.equal(JSON.parse(line).v, 1);

    const again = await DeliveryStore.open(dir.path, log);
    const d1 = again.state.get("d1");
    assert.equal(d1?.outcome, "succeeded");
    assert.equal(d1?.redeliveries, 1);
    assert.equal(d1?.runs[0]?.logFile, "/x.log");
    assert.equal(again.state.get("d2")?.outcome, "superseded");
    assert.equal(again.state.get("d2")?.supersededBy, "d3");
    assert.deepEqual(
      again.state.pending().map((d) => d.id),
      ["d3"],
    );
    assert.equal(again.state.lastRun, 1);
    await again.close();
  });

  it("refuses records that do not fit the state, before writing them", async () => {
    const store = await DeliveryStore.open(dir.path, log);
    await store.append(push("d1", 1));
    await assert.rejects(store.append(push("d1", 1)), /delivery d1 is recorded twice/);
    await assert.rejects(store.append({ type: "duplicate", id: "nope" }), /duplicate of unknown delivery nope/);
    await assert.rejects(store.append(push("d2", 2, ["zz"])), /supersedes unknown delivery zz/);
    await assert.rejects(
      store.append({ type: "run-finished", id: "d1", run: 1, outcome: "failed", reason: "x" }),
      /end of run #1 of delivery d1, which is not running/,
    );
    await assert.rejects(store.append({ ...push("d9", 9), commit: 5 } as never), /refusing to write an invalid record: commit: /);
    await store.close();
    assert.equal(readFileSync(statePaths(dir.path).log, "utf8").split("\n").length, 2, "only the one valid record");
  });

  it("cuts off a torn last line left by a crash, with a warning, and keeps appending cleanly", async () => {
    const store = await DeliveryStore.open(dir.path, log);
    await store.append(push("d1", 1));
    await store.close();
    const file = statePaths(dir.path).log;
    appendFileSync(file, '{"v":1,"at":"2025-01-01T00:00:00.000Z","id":"d2","type":"deliv');
    // A reader (runs) tolerates the torn tail without touching it.
    assert.deepEqual(
      (await readDeliveries(dir.path)).deliveries.map((d) => d.id),
      ["d1"],
    );
    const again = await DeliveryStore.open(dir.path, log);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? "", /dropping a partial last record \(\d+ bytes\)/);
    await again.append(push("d2", 2));
    await again.close();
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    assert.equal(lines.length, 2);
    assert.equal(JSON.parse(lines[1] ?? "").id, "d2");
  });

  it("reports a bad complete line with file, line number and field, and does not start", async () => {
    const store = await DeliveryStore.open(dir.path, log);
    await store.append(push("d1", 1));
    await store.close();
    const file = statePaths(dir.path).log;
    const good = readFileSync(file, "utf8");
    writeFileSync(file, `${good}${JSON.stringify({ ...JSON.parse(good), id: "d2", outcome: "exploded" })}\n`);
    await assert.rejects(DeliveryStore.open(dir.path, log), (err: Error) => {
      assert.ok(err instanceof StateError);
      assert.equal(err.message.startsWith(`${file}:2: outcome: `), true, err.message);
      return true;
    });
    writeFileSync(file, `${good}not json\n`);
    await assert.rejects(DeliveryStore.open(dir.path, log), new RegExp(`${file}:2: not valid JSON`));
    writeFileSync(file, `${good}${JSON.stringify({ v: 1, at: new Date().toISOString(), id: "ghost", type: "duplicate" })}\n`);
    await assert.rejects(readDeliveries(dir.path), new RegExp(`${file}:2: duplicate of unknown delivery ghost`));
    // A failed open releases the lock again.
    writeFileSync(file, good);
    const ok = await DeliveryStore.open(dir.path, log);
    await ok.close();
  });

  it("is locked against a second receiver on the same state directory", async () => {
    const store = await DeliveryStore.open(dir.path, log);
    await assert.rejects(
      DeliveryStore.open(dir.path, log),
      (err: Error) => err instanceof StateError && /in use by another receiver \(pid \d+/.test(err.message),
    );
    await store.close();
    const again = await DeliveryStore.open(dir.path, log);
    await again.close();
  });

  it("takes over the lock of a receiver that is gone", async () => {
    const first = await DeliveryStore.open(dir.path, log);
    await first.close();
    const { hostname } = await import("node:os");
    // pid 2^22+1 is above Linux's pid_max default, so no process has it.
    writeFileSync(statePaths(dir.path).lock, JSON.stringify({ pid: 4194305, host: hostname(), startedAt: "2025-01-01T00:00:00Z" }));
    const store = await DeliveryStore.open(dir.path, log);
    assert.match(warnings.join("\n"), /taking over the state of receiver pid 4194305, which is gone/);
    await store.close();
  });

  it("reads an absent state directory as empty", async () => {
    assert.deepEqual((await readDeliveries(`${dir.path}/nothing-here`)).deliveries, []);
  });
});
