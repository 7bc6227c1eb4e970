import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "vitest";
import { Scheduler } from "../../harness/webhook/scheduler.ts";
import { DeliveryStore } from "../../harness/webhook/store.ts";
import type { RunRequest, RunResult, Trigger } from "../../harness/webhook/triggers/types.ts";
import { sha, tempDir, waitFor } from "../fixtures/webhook/helpers.ts";

/** A trigger whose runs finish when the test says so; records overlaps. */
class ManualTrigger implements Trigger {
  readonly kind = "local" as const;
  readonly started: RunRequest[] = [];
  active = 0;
  maxActive = 0;
  #finish: Array<(r: RunResult) => void> = [];

  describe(r: RunRequest): Record<string, unknown> {
    return { commit: r.commit };
  }

  run(request: RunRequest, signal: AbortSignal): Promise<RunResult> {
    this.started.push(request);
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    return new Promise((resolve) => {
      const done = (r: RunResult): void => {
        this.active -= 1;
        resolve(r);
      };
      this.#finish.push(done);
      signal.addEventListener("abort", () => done({ outcome: "interrupted", reason: "aborted" }), { once: true });
    });
  }

  finishNext(result: RunResult = { outcome: "succeeded", reason: null }): void {
    const next = this.#finish.shift();
    assert.ok(next, "a run to finish");
    next(result);
  }
}

const push = (id: string, n: number, branch = "main", repository = "o/r") => ({
  id,
  event: "push",
  repository,
  ref: `refs/heads/${branch}`,
  branch,
  commit: sha(n),
});

describe("Scheduler", () => {
  let dir: { path: string; cleanup: () => void };
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.cleanup());

  it("coalesces per repository and branch: a push of another repository never replaces ours", async () => {
    const store = await DeliveryStore.open(dir.path);
    const trigger = new ManualTrigger();
    const scheduler = new Scheduler({ store, trigger });
    await scheduler.start();
    await scheduler.submit(push("running", 1));
    await waitFor("the first run", () => trigger.started.length === 1);
    assert.deepEqual(await scheduler.submit(push("ours", 2, "main", "o/r")), []);
    assert.deepEqual(await scheduler.submit(push("theirs", 3, "main", "evil/r")), [], "another repository's main is its own slot");
    assert.deepEqual(await scheduler.submit(push("ours-again", 4, "main", "O/R")), ["ours"], "GitHub names ignore case");
    assert.deepEqual(scheduler.queued, ["theirs", "ours-again"]);
    assert.equal(store.state.get("ours")?.supersededBy, "ours-again");
    await scheduler.stop({ kill: true });
    await store.close();
  });

  it("runs one at a time and coalesces waiting pushes per branch: the newest commit wins", async () => {
    const store = await DeliveryStore.open(dir.path);
    const trigger = new ManualTrigger();
    const scheduler = new Scheduler({ store, trigger });
    await scheduler.start();
    assert.deepEqual(await scheduler.submit(push("a", 1)), []);
    await waitFor("run of a", () => trigger.started.length === 1);
    assert.deepEqual(await scheduler.submit(push("b", 2)), []);
    assert.deepEqual(await scheduler.submit(push("c", 3)), ["b"]);
    assert.deepEqual(await scheduler.submit(push("x", 9, "release")), [], "other branches are not coalesced");
    assert.deepEqual(scheduler.queued, ["c", "x"]);
    assert.equal(store.state.get("b")?.outcome, "superseded");
    assert.equal(store.state.get("b")?.supersededBy, "c");
    trigger.finishNext();
    await waitFor("run of c", () => trigger.started.length === 2);
    trigger.finishNext({ outcome: "failed", reason: "exit 1" });
    await waitFor("run of x", () => trigger.started.length === 3);
    trigger.finishNext();
    await scheduler.idle();
    assert.deepEqual(
      trigger.started.map((r) => [r.deliveryId, r.commit, r.run, r.buildTag]),
      [
        ["a", sha(1), 1, `envoy-pipeline-webhook-${sha(1).slice(0, 7)}-1`],
        ["c", sha(3), 2, `envoy-pipeline-webhook-${sha(3).slice(0, 7)}-2`],
        ["x", sha(9), 3, `envoy-pipeline-webhook-${sha(9).slice(0, 7)}-3`],
      ],
    );
    assert.equal(trigger.maxActive, 1);
    assert.equal(store.state.get("c")?.outcome, "failed");
    assert.equal(store.state.get("c")?.reason, "exit 1");
    await scheduler.stop();
    await store.close();
  });

  it("on restart resumes queued work in order, and requeues an interrupted run once", async () => {
    // First life: a runs (never finishes: crash), b queued on another branch.
    const store1 = await DeliveryStore.open(dir.path);
    const t1 = new ManualTrigger();
    const s1 = new Scheduler({ store: store1, trigger: t1 });
    await s1.start();
    await s1.submit(push("a", 1, "release"));
    await waitFor("a running", () => t1.started.length === 1);
    await s1.submit(push("b", 2, "main"));
    await store1.close(); // the process "dies" here: no run-finished for a

    const store2 = await DeliveryStore.open(dir.path);
    assert.equal(store2.state.get("a")?.outcome, "running");
    const t2 = new ManualTrigger();
    const s2 = new Scheduler({ store: store2, trigger: t2 });
    await s2.start();
    assert.equal(store2.state.get("a")?.runs[0]?.outcome, "interrupted");
    await waitFor("a resumed", () => t2.started.length === 1);
    assert.equal(t2.started[0]?.deliveryId, "a", "the interrupted delivery keeps its place (received before b)");
    assert.equal(t2.started[0]?.run, 2, "run numbers continue across restarts");
    t2.finishNext();
    await waitFor("b", () => t2.started.length === 2);
    assert.equal(t2.started[1]?.deliveryId, "b");
    t2.finishNext();
    await s2.idle();
    assert.equal(store2.state.get("a")?.outcome, "succeeded");
    assert.equal(store2.state.get("a")?.runs.length, 2);
    await s2.stop();
    await store2.close();
  });

  it("does not requeue an interrupted run when a newer push of its branch waits", async () => {
    const store1 = await DeliveryStore.open(dir.path);
    const t1 = new ManualTrigger();
    const s1 = new Scheduler({ store: store1, trigger: t1 });
    await s1.start();
    await s1.submit(push("a", 1));
    await waitFor("a running", () => t1.started.length === 1);
    await s1.submit(push("b", 2));
    await store1.close();

    const store2 = await DeliveryStore.open(dir.path);
    const t2 = new ManualTrigger();
    const s2 = new Scheduler({ store: store2, trigger: t2 });
    await s2.start();
    await waitFor("b", () => t2.started.length === 1);
    t2.finishNext();
    await s2.idle();
    assert.deepEqual(
      t2.started.map((r) => r.deliveryId),
      ["b"],
    );
    assert.equal(store2.state.get("a")?.outcome, "interrupted");
    await s2.stop();
    await store2.close();
  });

  it("gives up on a run interrupted maxAttempts times", async () => {
    for (let life = 1; life <= 3; life++) {
      const store = await DeliveryStore.open(dir.path);
      const t = new ManualTrigger();
      const s = new Scheduler({ store, trigger: t, maxAttempts: 2 });
      await s.start();
      if (life === 1) await s.submit(push("a", 1));
      if (life < 3) {
        await waitFor(`a running (life ${life})`, () => t.started.length === 1);
      } else {
        await s.idle();
        assert.equal(t.started.length, 0, "not retried a third time");
        assert.equal(store.state.get("a")?.outcome, "interrupted");
        assert.equal(store.state.get("a")?.runs.length, 2);
      }
      await store.close();
    }
  });

  it("stop() waits for the running pipeline and leaves the queue recorded; stop({kill}) interrupts it", async () => {
    const store = await DeliveryStore.open(dir.path);
    const t = new ManualTrigger();
    const s = new Scheduler({ store, trigger: t });
    await s.start();
    await s.submit(push("a", 1));
    await waitFor("a", () => t.started.length === 1);
    await s.submit(push("b", 2, "other"));
    let stopped = false;
    const stopping = s.stop().then(() => {
      stopped = true;
    });
    // A round trip through the stopping scheduler: stop() has begun, and must still be waiting.
    await assert.rejects(s.submit(push("c", 3)), /stopping/);
    assert.equal(stopped, false, "waits for the run");
    t.finishNext();
    await stopping;
    assert.equal(t.started.length, 1, "b did not start");
    assert.equal(store.state.get("b")?.outcome, "queued");
    await store.close();

    const store2 = await DeliveryStore.open(dir.path);
    const t2 = new ManualTrigger();
    const s2 = new Scheduler({ store: store2, trigger: t2 });
    await s2.start();
    await waitFor("b resumed", () => t2.started.length === 1);
    await s2.stop({ kill: true });
    assert.equal(store2.state.get("b")?.runs[0]?.outcome, "interrupted");
    assert.equal(store2.state.get("b")?.runs[0]?.reason, "aborted");
    assert.equal(store2.state.get("b")?.outcome, "queued", "a killed run is queued again for the next start");
    await store2.close();

    const store3 = await DeliveryStore.open(dir.path);
    const t3 = new ManualTrigger();
    const s3 = new Scheduler({ store: store3, trigger: t3 });
    await s3.start();
    await waitFor("b resumed again", () => t3.started.length === 1);
    assert.equal(t3.started[0]?.deliveryId, "b");
    t3.finishNext();
    await s3.idle();
    assert.equal(store3.state.get("b")?.outcome, "succeeded");
    await s3.stop();
    await store3.close();
  });

  it("a trigger that throws is recorded as failed, and the next run goes on", async () => {
    const store = await DeliveryStore.open(dir.path);
    let calls = 0;
    const trigger: Trigger = {
      kind: "jenkins",
      describe: () => ({}),
      run: async () => {
        calls += 1;
        if (calls === 1) throw new Error("boom");
        return { outcome: "triggered", reason: null, queueLocation: "http://j/queue/item/1/" };
      },
    };
    const s = new Scheduler({ store, trigger });
    await s.start();
    await s.submit(push("a", 1));
    await s.submit(push("b", 2, "x"));
    await s.idle();
    assert.equal(store.state.get("a")?.outcome, "failed");
    assert.equal(store.state.get("a")?.reason, "the jenkins trigger threw: boom");
    assert.equal(store.state.get("b")?.runs[0]?.queueLocation, "http://j/queue/item/1/");
    await s.stop();
    await store.close();
  });
});
