// The receiver end to end in this process: real HTTP on 127.0.0.1:0, deliveries signed the way
// GitHub signs them, the fake pipeline as the local command (run in a worktree of a git repository
// made in the test), a fake Jenkins for the jenkins trigger.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "vitest";
import { type WebhookApp, startWebhook } from "../../harness/webhook/app.ts";
import { jenkinsFromEnv } from "../../harness/webhook/config.ts";
import { readDeliveries } from "../../harness/webhook/store.ts";
import { JenkinsTrigger } from "../../harness/webhook/triggers/jenkins.ts";
import { LocalTrigger } from "../../harness/webhook/triggers/local.ts";
import type { Trigger } from "../../harness/webhook/triggers/types.ts";
import {
  SECRET,
  commitFiles,
  deliver,
  entriesOf,
  fakeEnv,
  fakePipeline,
  fixture,
  git,
  linkedWorktrees,
  markerRepo,
  pushPayload,
  readFakeRecords,
  sha,
  startFakeJenkins,
  tempDir,
  waitFor,
} from "../fixtures/webhook/helpers.ts";

let dir: { path: string; cleanup: () => void };
let record: string;
let apps: WebhookApp[] = [];
/** The repository the local trigger builds from, and its commits (marker.txt = "marker <n>"). */
let repo: string;
let commits: string[];
/** The n-th commit (1-based) of `repo`. */
const c = (n: number): string => commits[n - 1] as string;

interface StartOptions {
  sleepMs?: number;
  exitCode?: number;
  dryRun?: boolean;
  branches?: string[];
  maxBodyBytes?: number;
  secrets?: string[];
  trigger?: Trigger;
  remote?: string;
}

async function start(options: StartOptions = {}): Promise<WebhookApp> {
  const app = await startWebhook({
    port: 0,
    stateDir: dir.path,
    secrets: options.secrets ?? [SECRET],
    filters: { branches: options.branches ?? [] },
    dryRun: options.dryRun ?? false,
    ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
    trigger:
      options.trigger ??
      ((store) =>
        new LocalTrigger({
          command: [process.execPath, fakePipeline],
          env: fakeEnv(record, { sleepMs: options.sleepMs ?? 0, exitCode: options.exitCode ?? 0 }),
          repository: repo,
          ...(options.remote !== undefined ? { remote: options.remote } : {}),
          nodeModulesFrom: null,
          worktreeDir: store.paths.worktrees,
          reportDir: store.paths.reports,
          logDir: store.paths.runLogs,
          pidFile: store.paths.runPid,
          killGraceMs: 2_000,
        })),
  });
  apps.push(app);
  return app;
}

const starts = () => readFakeRecords(record).filter((r) => r.phase === "start");

beforeEach(() => {
  dir = tempDir();
  record = join(dir.path, "pipeline-record.jsonl");
  apps = [];
  repo = join(dir.path, "repo");
  commits = markerRepo(repo, 3);
});

afterEach(async () => {
  for (const app of apps) await app.stop({ kill: true });
  dir.cleanup();
});

describe("webhook receiver over HTTP", () => {
  it("prints the URL it listens on, on 127.0.0.1 with a free port", async () => {
    const app = await start();
    assert.match(app.url, /^http:\/\/127\.0\.0\.1:\d+\/github-webhook\/$/);
    assert.notEqual(app.port, 0);
  });

  it("200 to ping, recorded", async () => {
    const app = await start();
    const id = randomUUID();
    const res = await deliver(app.url, { event: "ping", id, payload: fixture("ping") });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { outcome: "ping", delivery: id });
    assert.match(String(res.headers["content-type"]), /^application\/json/);
    assert.equal(app.store.state.get(id)?.outcome, "ping");
    assert.equal(app.store.state.get(id)?.repository, "Octocoders/Hello-World");
  });

  it("401 to a missing, wrong or malformed signature; nothing is recorded or run", async () => {
    const app = await start();
    const cases = [
      { secret: null, error: "missing X-Hub-Signature-256 header" },
      { secret: "not-the-secret", error: "X-Hub-Signature-256 does not match the body for the configured secret" },
      { signature: "sha256=zzz", error: "X-Hub-Signature-256 is not of the form sha256=<64 lower-case hex digits>" },
    ];
    for (const c of cases) {
      const res = await deliver(app.url, { payload: pushPayload(), ...c });
      assert.equal(res.status, 401, JSON.stringify(c));
      assert.deepEqual(res.json, { error: c.error });
    }
    // An unsigned body with bad JSON and an unknown event is still a 401, not a 400.
    const res = await deliver(app.url, { body: "{nope", event: "bogus", secret: null });
    assert.equal(res.status, 401);
    await app.idle();
    assert.equal(app.store.state.list().length, 0);
    assert.equal(starts().length, 0);
  });

  it("rotation: a delivery signed with any configured secret is accepted", async () => {
    const app = await start({ secrets: ["new-secret", SECRET] });
    assert.equal((await deliver(app.url, { event: "ping", payload: fixture("ping"), secret: "new-secret" })).status, 200);
    assert.equal((await deliver(app.url, { event: "ping", payload: fixture("ping"), secret: SECRET })).status, 200);
    assert.equal((await deliver(app.url, { event: "ping", payload: fixture("ping"), secret: "older" })).status, 401);
  });

  it("400 to malformed JSON, a malformed or missing event, missing delivery id, and a push of the wrong shape", async () => {
    const app = await start();
    const malformed = await deliver(app.url, { body: '{"ref": "refs/heads/master", ' });
    assert.equal(malformed.status, 400);
    assert.match(String(malformed.json.error), /^malformed JSON: /);
    const unknown = await deliver(app.url, { event: "Push-Y", payload: pushPayload() });
    assert.equal(unknown.status, 400);
    assert.match(String(unknown.json.error), /X-GitHub-Event is not an event name/);
    const noEvent = await deliver(app.url, { event: undefined, payload: pushPayload() });
    assert.deepEqual([noEvent.status, noEvent.json.error], [400, "missing X-GitHub-Event header"]);
    const noId = await deliver(app.url, { id: undefined, payload: pushPayload() });
    assert.deepEqual([noId.status, noId.json.error], [400, "missing X-GitHub-Delivery header"]);
    const payload = pushPayload();
    delete payload.ref;
    const shape = await deliver(app.url, { payload });
    assert.equal(shape.status, 400);
    assert.match(String(shape.json.error), /^push payload: ref: /);
    assert.equal(app.store.state.list().length, 0);
  });

  it("413 to bodies over the limit, by Content-Length and while streaming", async () => {
    const app = await start({ maxBodyBytes: 4096 });
    const big = { ...pushPayload(), padding: "x".repeat(8192) };
    const declared = await deliver(app.url, { payload: big });
    assert.equal(declared.status, 413);
    assert.deepEqual(declared.json, { error: "the body is larger than the limit of 4096 bytes (--max-body-bytes)" });
    assert.equal(declared.headers.connection, "close");
    const streamed = await deliver(app.url, { payload: big, chunked: true });
    assert.equal(streamed.status, 413);
    // Under the limit is fine (the real push payload is 8.7 kB > 4096, so use ping-sized bodies).
    const small = await deliver(app.url, { event: "ping", payload: { zen: "z", hook_id: 1 } });
    assert.equal(small.status, 200);
    assert.equal(app.store.state.list().length, 1);
  });

  it("404 for other paths, 405 for other methods, 415 for other content types", async () => {
    const app = await start();
    const other = await deliver(app.url, { path: "/hooks", payload: pushPayload() });
    assert.equal(other.status, 404);
    assert.match(String(other.json.error), /POST \/github-webhook\//);
    const get = await deliver(app.url, { method: "GET", body: "" });
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, "POST");
    const noSlash = await deliver(app.url, { path: "/github-webhook", event: "ping", payload: fixture("ping") });
    assert.equal(noSlash.status, 200, "the path without the trailing slash works too");
    const text = await deliver(app.url, { contentType: "text/plain", payload: pushPayload() });
    assert.equal(text.status, 415);
  });

  it("a correctly signed event the pinned @octokit/webhooks does not know is 200, ignored with that reason, not 400", async () => {
    const app = await start();
    const id = randomUUID();
    const res = await deliver(app.url, { event: "code_quality_report", id, payload: { repository: { full_name: "o/r" } } });
    assert.equal(res.status, 200);
    assert.equal(res.json.outcome, "ignored");
    assert.match(
      String(res.json.reason),
      /event 'code_quality_report' does not trigger a build .* not known to the pinned @octokit\/webhooks/,
    );
    assert.equal(app.store.state.get(id)?.outcome, "ignored");
  });

  it("2xx with a reason for other events, other branches, deletions and tags; recorded as ignored; nothing runs", async () => {
    const app = await start();
    const cases: Array<[string, unknown, string]> = [
      [
        "issues",
        { action: "opened", repository: { full_name: "Codertocat/Hello-World" } },
        "event 'issues' does not trigger a build (only push does)",
      ],
      ["push", pushPayload({ branch: "feature" }), "branch feature is not the default branch (master)"],
      ["push", pushPayload({ deleted: true, after: "0".repeat(40) }), "branch master was deleted"],
      ["push", fixture("push-tag-deleted"), "ref refs/tags/simple-tag is not a branch"],
    ];
    for (const [event, payload, reason] of cases) {
      const id = randomUUID();
      const res = await deliver(app.url, { event, id, payload });
      assert.equal(res.status, 200, reason);
      assert.deepEqual(res.json, { outcome: "ignored", delivery: id, reason });
      assert.equal(app.store.state.get(id)?.outcome, "ignored");
      assert.equal(app.store.state.get(id)?.reason, reason);
    }
    await app.idle();
    assert.equal(starts().length, 0);
  });

  it("202 to a push of the default branch; the pipeline runs with its commit; JSON and form bodies", async () => {
    const app = await start();
    const id = randomUUID();
    // GitHub's own push payload, naming a commit of the test repository.
    const res = await deliver(app.url, { id, payload: { ...fixture("push"), after: c(1) } });
    assert.equal(res.status, 202);
    assert.deepEqual(res.json, { outcome: "queued", delivery: id, branch: "master", commit: c(1), supersedes: [] });
    await app.idle();
    const form = await deliver(app.url, {
      body: new URLSearchParams({ payload: JSON.stringify(pushPayload({ after: c(2) })) }).toString(),
      contentType: "application/x-www-form-urlencoded",
    });
    assert.equal(form.status, 202);
    await app.idle();
    assert.deepEqual(
      starts().map((s) => [s.commit, s.head, s.branch, s.buildTag]),
      [
        [c(1), c(1), "master", `envoy-pipeline-webhook-${c(1).slice(0, 7)}-1`],
        [c(2), c(2), "master", `envoy-pipeline-webhook-${c(2).slice(0, 7)}-2`],
      ],
    );
    const view = app.store.state.get(id);
    assert.equal(view?.outcome, "succeeded");
    assert.equal(view?.runs[0]?.exitCode, 0);
    assert.ok(existsSync(view?.runs[0]?.logFile ?? ""));
  });

  it("a failing pipeline is recorded failed with its exit code", async () => {
    const app = await start({ exitCode: 2 });
    const id = randomUUID();
    await deliver(app.url, { id, payload: pushPayload({ after: c(1) }) });
    await app.idle();
    assert.equal(app.store.state.get(id)?.outcome, "failed");
    assert.match(app.store.state.get(id)?.reason ?? "", /exited with code 2/);
  });

  it("a redelivery of the same id never runs twice (while running, and after)", async () => {
    const app = await start({ sleepMs: 1_500 });
    const id = randomUUID();
    assert.equal((await deliver(app.url, { id, payload: pushPayload({ after: c(1) }) })).status, 202);
    await waitFor("the run to start", () => starts().length === 1);
    const during = await deliver(app.url, { id, payload: pushPayload({ after: c(1) }) });
    assert.equal(during.status, 200);
    assert.deepEqual(during.json, { outcome: "duplicate", delivery: id, reason: `delivery ${id} was already received; it is running` });
    await app.idle();
    const afterwards = await deliver(app.url, { id, payload: pushPayload({ after: c(1) }) });
    assert.equal(afterwards.json.outcome, "duplicate");
    assert.match(String(afterwards.json.reason), /it is succeeded$/);
    await app.idle();
    assert.equal(starts().length, 1);
    assert.equal(app.store.state.get(id)?.redeliveries, 2);
    // Ignored deliveries and pings are deduplicated too.
    const ping = randomUUID();
    await deliver(app.url, { event: "ping", id: ping, payload: fixture("ping") });
    assert.equal((await deliver(app.url, { event: "ping", id: ping, payload: fixture("ping") })).json.outcome, "duplicate");
  });

  it("one at a time: of 3 quick pushes to master the first runs and the other two coalesce into the newest", async () => {
    // The first run lasts 1.5 s: pushes 2 and 3 arrive while it runs, even on a loaded machine.
    const app = await start({ sleepMs: 1_500 });
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    const answers = [];
    for (const [i, id] of ids.entries()) {
      answers.push(await deliver(app.url, { id, payload: pushPayload({ after: c(i + 1) }) }));
      if (i === 0) await waitFor("the first run to start", () => starts().length === 1);
    }
    assert.deepEqual(
      answers.map((a) => a.status),
      [202, 202, 202],
    );
    assert.deepEqual(answers[2]?.json.supersedes, [ids[1]]);
    await app.idle();
    const records = readFakeRecords(record);
    assert.deepEqual(
      records.map((r) => [r.phase, r.commit]),
      [
        ["start", c(1)],
        ["end", c(1)],
        ["start", c(3)],
        ["end", c(3)],
      ],
    );
    const firstEnd = records[1]?.at ?? 0;
    const secondStart = records[2]?.at ?? 0;
    assert.ok(secondStart >= firstEnd, "never two at once");
    const superseded = app.store.state.get(ids[1] as string);
    assert.equal(superseded?.outcome, "superseded");
    assert.equal(superseded?.supersededBy, ids[2]);
    assert.equal(superseded?.runs.length, 0);
    assert.equal(app.store.state.get(ids[2] as string)?.outcome, "succeeded");
  });

  it("pushes to different configured branches queue separately", async () => {
    const app = await start({ sleepMs: 200, branches: ["master", "release"] });
    await deliver(app.url, { payload: pushPayload({ after: c(1) }) });
    await waitFor("first", () => starts().length === 1);
    await deliver(app.url, { payload: pushPayload({ branch: "release", after: c(2) }) });
    await deliver(app.url, { payload: pushPayload({ after: c(3) }) });
    await app.idle();
    assert.deepEqual(
      starts().map((s) => [s.branch, s.commit]),
      [
        ["master", c(1)],
        ["release", c(2)],
        ["master", c(3)],
      ],
    );
  });

  it("--dry-run records what it would run and runs nothing", async () => {
    const app = await start({ dryRun: true });
    const id = randomUUID();
    assert.equal((await deliver(app.url, { id, payload: pushPayload({ after: sha(9) }) })).status, 202);
    await app.idle();
    assert.equal(existsSync(record), false, "the fake pipeline never started");
    const view = app.store.state.get(id);
    assert.equal(view?.outcome, "dry-run");
    assert.equal(view?.runs[0]?.dryRun, true);
    const plan = view?.runs[0]?.plan as { command: string[]; cwd: string; git: Record<string, string>; env: Record<string, string> };
    const worktree = join(app.store.paths.worktrees, `run-1-${sha(9).slice(0, 7)}`);
    assert.deepEqual(plan.command, [process.execPath, fakePipeline]);
    assert.equal(plan.cwd, worktree);
    assert.deepEqual(plan.git, { repository: repo, remote: "origin", commit: sha(9), worktree });
    assert.deepEqual(plan.env, {
      ENVOY_PIPELINE_COMMIT: sha(9),
      ENVOY_PIPELINE_BRANCH: "master",
      ENVOY_PIPELINE_REPORT_DIR: join(app.store.paths.reports, `run-1-${sha(9).slice(0, 7)}`),
      BUILD_TAG: `envoy-pipeline-webhook-${sha(9).slice(0, 7)}-1`,
    });
    assert.deepEqual(entriesOf(app.store.paths.worktrees), [], "no worktree is made in a dry run");
  });

  it("durability: deliveries, queued and interrupted work survive a restart; redeliveries stay duplicates", async () => {
    const first = await start({ sleepMs: 30_000, branches: ["master", "release"] });
    const a = randomUUID();
    const b = randomUUID();
    const ping = randomUUID();
    await deliver(first.url, { event: "ping", id: ping, payload: fixture("ping") });
    await deliver(first.url, { id: a, payload: pushPayload({ after: c(1) }) });
    await waitFor("a to run", () => starts().length === 1);
    await deliver(first.url, { id: b, payload: pushPayload({ branch: "release", after: c(2) }) });
    // The state is on disk before any stop: a fresh reader sees all three.
    const onDisk = await readDeliveries(dir.path);
    assert.deepEqual(
      onDisk.deliveries.map((d) => [d.id, d.outcome]),
      [
        [ping, "ping"],
        [a, "running"],
        [b, "queued"],
      ],
    );
    await first.stop({ kill: true });
    assert.equal(readFakeRecords(record).at(-1)?.phase, "terminated");

    const second = await start({ sleepMs: 0, branches: ["master", "release"] });
    await second.idle();
    const resumed = starts()
      .slice(1)
      .map((s) => s.commit);
    assert.deepEqual(resumed, [c(1), c(2)], "the killed run and the queued push both ran after the restart");
    assert.equal(second.store.state.get(a)?.outcome, "succeeded");
    assert.deepEqual(
      second.store.state.get(a)?.runs.map((r) => r.outcome),
      ["interrupted", "succeeded"],
    );
    assert.equal(second.store.state.get(b)?.outcome, "succeeded");
    const again = await deliver(second.url, { id: a, payload: pushPayload({ after: c(1) }) });
    assert.equal(again.json.outcome, "duplicate");
    await second.idle();
    assert.equal(starts().length, 3);
  });

  it("500 when the delivery cannot be recorded: nothing is acknowledged that is not on disk", async () => {
    const app = await start();
    await app.store.close();
    const id = randomUUID();
    const res = await deliver(app.url, { id, payload: pushPayload() });
    assert.equal(res.status, 500);
    assert.deepEqual(res.json, { error: "could not record the delivery: the delivery store is closed", delivery: id });
    assert.equal(app.scheduler.queued.length, 0);
  });

  it("refuses a second receiver on the same state directory", async () => {
    await start();
    await assert.rejects(start(), /is in use by another receiver/);
  });

  it("a port in use is a clear error, and the state directory is released again", async () => {
    const app = await start();
    const other = tempDir();
    try {
      await assert.rejects(
        startWebhook({
          port: app.port,
          stateDir: other.path,
          secrets: [SECRET],
          trigger: new JenkinsTrigger({
            settings: jenkinsFromEnv({ JENKINS_URL: "http://127.0.0.1:9/", JENKINS_USER: "u", JENKINS_API_TOKEN: "t" }, "j"),
          }),
        }),
        new RegExp(`^ListenError: cannot listen on 127\\.0\\.0\\.1:${app.port}: EADDRINUSE$`),
      );
      assert.equal(existsSync(join(other.path, "webhook", "receiver.lock")), false);
    } finally {
      other.cleanup();
    }
  });
});

describe("webhook receiver with the local trigger: the pushed commit, in a throwaway worktree", () => {
  // GitHub's side is a repository on the local file system ("upstream"); the receiver's repository
  // is a clone of it made before the pushes, so a pushed commit has to be fetched from origin.
  let upstream: string;
  let pushed: string;
  beforeEach(() => {
    upstream = join(dir.path, "upstream");
    markerRepo(upstream, 1);
    repo = join(dir.path, "receiver");
    git(dir.path, "clone", "-q", "--no-local", upstream, repo);
    commits = [git(repo, "rev-parse", "HEAD")];
    pushed = commitFiles(upstream, { "marker.txt": "marker 2\n" }, "the pushed commit");
  });

  it("a push naming the second commit runs the pipeline in a worktree at that commit, fetched from origin, then removes it", async () => {
    const app = await start();
    const id = randomUUID();
    assert.equal((await deliver(app.url, { id, payload: pushPayload({ after: pushed }) })).status, 202);
    await app.idle();
    const view = app.store.state.get(id);
    assert.equal(view?.outcome, "succeeded", view?.reason ?? "");
    const [run] = starts();
    const worktree = join(app.store.paths.worktrees, `run-1-${pushed.slice(0, 7)}`);
    assert.deepEqual([run?.cwd, run?.head, run?.marker], [worktree, pushed, "marker 2"]);
    const log = readFileSync(view?.runs[0]?.logFile ?? "", "utf8");
    assert.match(log, new RegExp(`# commit ${pushed} is not in ${repo}: git fetch origin ${pushed}`));
    assert.match(log, /fake pipeline: marker marker 2/);
    assert.deepEqual(entriesOf(app.store.paths.worktrees), [], "the worktree is removed after the run");
    assert.deepEqual(linkedWorktrees(repo), []);
    assert.equal(git(repo, "rev-parse", "HEAD"), c(1), "the receiver's checkout stays where it was");
  });

  it("a push naming an unknown commit is recorded failed with git's error; nothing runs, nothing is left", async () => {
    const app = await start();
    const id = randomUUID();
    const unknown = sha(0xdead);
    assert.equal((await deliver(app.url, { id, payload: pushPayload({ after: unknown }) })).status, 202);
    await app.idle();
    const view = app.store.state.get(id);
    assert.equal(view?.outcome, "failed");
    // git's words; with a remote on the local file system, upload-pack's own line comes too, in either order.
    assert.match(
      view?.reason ?? "",
      new RegExp(
        `^commit ${unknown} is not in ${repo} and git fetch origin ${unknown} failed: .*fatal: remote error: upload-pack: not our ref ${unknown}`,
      ),
    );
    assert.equal(starts().length, 0);
    assert.deepEqual(entriesOf(app.store.paths.worktrees), []);
    assert.deepEqual(linkedWorktrees(repo), []);
    // The next push is not affected.
    await deliver(app.url, { payload: pushPayload({ after: pushed }) });
    await app.idle();
    assert.deepEqual(
      starts().map((r) => r.marker),
      ["marker 2"],
    );
  });

  it("worktrees are removed after every run: succeeded, failed and killed", async () => {
    const failing = await start({ exitCode: 1 });
    await deliver(failing.url, { payload: pushPayload({ after: pushed }) });
    await failing.idle();
    assert.deepEqual(entriesOf(failing.store.paths.worktrees), []);
    await failing.stop();
    const slow = await start({ sleepMs: 30_000 });
    await deliver(slow.url, { payload: pushPayload({ after: c(1) }) });
    await waitFor("the run to start", () => starts().length === 2);
    assert.equal(entriesOf(slow.store.paths.worktrees).length, 1);
    await slow.stop({ kill: true });
    assert.deepEqual(entriesOf(slow.store.paths.worktrees), []);
    assert.deepEqual(linkedWorktrees(repo), []);
  });
});

describe("webhook receiver with the jenkins trigger", () => {
  it("a push queues the Jenkins job with COMMIT and BRANCH; the queue Location is recorded; 500 is recorded failed", async () => {
    const jenkins = await startFakeJenkins();
    try {
      const trigger = new JenkinsTrigger({
        settings: jenkinsFromEnv({ JENKINS_URL: jenkins.url, JENKINS_USER: jenkins.user, JENKINS_API_TOKEN: jenkins.token }, "folder/app"),
      });
      const app = await start({ trigger });
      const ok = randomUUID();
      await deliver(app.url, { id: ok, payload: pushPayload({ after: sha(4) }) });
      await app.idle();
      assert.deepEqual(jenkins.builds, [{ job: "folder/app", params: { COMMIT: sha(4), BRANCH: "master" }, queueItem: 41 }]);
      const view = app.store.state.get(ok);
      assert.equal(view?.outcome, "triggered");
      assert.equal(view?.runs[0]?.queueLocation, `${jenkins.url}queue/item/41/`);
      assert.equal(view?.runs[0]?.trigger, "jenkins");

      jenkins.failWith = 500;
      const bad = randomUUID();
      await deliver(app.url, { id: bad, payload: pushPayload({ after: sha(5) }) });
      await app.idle();
      const failed = app.store.state.get(bad);
      assert.equal(failed?.outcome, "failed");
      assert.match(failed?.reason ?? "", /^Jenkins answered 500 to POST .*buildWithParameters: .*NullPointerException/);
      assert.equal(failed?.runs[0]?.queueLocation, null);
    } finally {
      await jenkins.close();
    }
  });
});
