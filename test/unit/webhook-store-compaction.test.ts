// Compaction of the delivery log: settled deliveries move to the history, start-up reads only
// their ids, nothing is lost (runs, redeliveries, run numbers), and a compaction cut short by a
// crash is undone at the next start. State files are private (0600 files, 0700 folders).
import assert from "node:assert/strict";
import { appendFileSync, readFileSync, statSync } from "node:fs";
import { afterEach, beforeEach, describe, it } from "vitest";
import { statePaths } from "../../harness/webhook/paths.ts";
import { DeliveryStore, readDeliveries } from "../../harness/webhook/store.ts";
import { sha, tempDir } from "../fixtures/webhook/helpers.ts";

const ping = (id: string) =>
  ({
    type: "delivery",
    id,
    event: "ping",
    repository: null,
    ref: null,
    branch: null,
    commit: null,
    outcome: "ping",
    reason: null,
    supersedes: [] as string[],
  }) as const;
const push = (id: string, n: number, supersedes: string[] = []) =>
  ({
    type: "delivery",
    id,
    event: "push",
    repository: "o/r",
    ref: "refs/heads/main",
    branch: "main",
    commit: sha(n),
    outcome: "queued",
    reason: null,
    supersedes,
  }) as const;

describe("DeliveryStore compaction", () => {
  let dir: { path: string; cleanup: () => void };
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  async function history(): Promise<DeliveryStore> {
    const store = await DeliveryStore.open(dir.path, undefined, { compactAfter: 4 });
    await store.append(push("run1", 1));
    await store.append({ type: "run-started", id: "run1", run: 1, trigger: "local", dryRun: false, buildTag: "t-1" });
    await store.append({ type: "run-finished", id: "run1", run: 1, outcome: "succeeded", reason: null, exitCode: 0 });
    await store.append(push("old", 2));
    await store.append(push("new", 3, ["old"])); // old: superseded (settled); new: queued (live)
    await store.append(ping("p1"));
    await store.append(ping("p2")); // 4 settled: run1, old, p1, p2 → compacted
    return store;
  }

  it("moves settled deliveries to the history; the live log keeps the queued one; start-up knows the rest by id", async () => {
    const store = await history();
    const paths = statePaths(dir.path);
    const live = readFileSync(paths.log, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(live[0].type, "compacted");
    assert.deepEqual(
      live.slice(1).map((r) => r.id),
      ["new"],
    );
    assert.equal(readFileSync(paths.historyIndex, "utf8"), "run1 succeeded\nold superseded\np1 ping\np2 ping\n");
    await store.append({ type: "duplicate", id: "p1" });
    await store.close();

    const again = await DeliveryStore.open(dir.path, undefined, { compactAfter: 4 });
    assert.equal(again.state.outcomeOf("run1"), "succeeded", "the duplicate check sees archived deliveries");
    assert.equal(again.state.has("p2"), true);
    assert.deepEqual(
      again.state.pending().map((d) => d.id),
      ["new"],
    );
    assert.equal(again.state.lastRun, 1, "run numbers go on after the archived runs");
    await assert.rejects(again.append(ping("p1")), /recorded twice/);
    await again.close();

    const { deliveries } = await readDeliveries(dir.path);
    assert.deepEqual(
      deliveries.map((d) => [d.id, d.outcome]),
      [
        ["run1", "succeeded"],
        ["old", "superseded"],
        ["p1", "ping"],
        ["p2", "ping"],
        ["new", "queued"],
      ],
    );
    assert.equal(deliveries.find((d) => d.id === "p1")?.redeliveries, 1, "a redelivery of an archived delivery is counted");
    assert.equal(deliveries[0]?.runs[0]?.outcome, "succeeded", "the history keeps the runs");
  });

  it("a compaction cut short by a crash (history appended, log not yet replaced) is undone at start-up", async () => {
    await (await history()).close();
    const paths = statePaths(dir.path);
    const index = readFileSync(paths.historyIndex, "utf8");
    appendFileSync(paths.historyIndex, "new queued\n");
    appendFileSync(paths.history, `${JSON.stringify({ id: "new" })}\n`);
    const again = await DeliveryStore.open(dir.path, undefined, { compactAfter: 4 });
    assert.equal(readFileSync(paths.historyIndex, "utf8"), index);
    assert.equal(again.state.get("new")?.outcome, "queued");
    await again.close();
  });

  it("state files are 0600 and its folders 0700", async () => {
    await (await history()).close();
    const paths = statePaths(dir.path);
    for (const file of [paths.log, paths.history, paths.historyIndex]) assert.equal(statSync(file).mode & 0o777, 0o600, file);
    for (const folder of [paths.dir, paths.runLogs]) assert.equal(statSync(folder).mode & 0o777, 0o700, folder);
  });
});
