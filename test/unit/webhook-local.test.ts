// The local trigger against real git: repositories made in the test (git init, commits with a
// marker file the fake pipeline prints), remotes on the local file system only.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "vitest";
import { repoRoot } from "../../harness/lib/paths.ts";
import { LocalTrigger, type LocalTriggerOptions, defaultLocalCommand } from "../../harness/webhook/triggers/local.ts";
import type { RunRequest } from "../../harness/webhook/triggers/types.ts";
import {
  commitFiles,
  entriesOf,
  FAKE_PIPELINE_ENV,
  fakeEnv,
  fakePipeline,
  git,
  linkedWorktrees,
  markerRepo,
  processAlive,
  readFakeRecords,
  sha,
  tempDir,
  waitFor,
} from "../fixtures/webhook/helpers.ts";

const req = (commit: string, run = 1): RunRequest => ({
  deliveryId: `delivery-${run}`,
  repository: "o/r",
  branch: "main",
  commit,
  run,
  buildTag: `envoy-pipeline-webhook-${commit.slice(0, 7)}-${run}`,
});

describe("LocalTrigger", () => {
  let dir: { path: string; cleanup: () => void };
  let record: string;
  let repo: string;
  let commits: string[];
  let worktreeDir: string;
  const make = (
    options: { sleepMs?: number; exitCode?: number; env?: NodeJS.ProcessEnv } & Partial<LocalTriggerOptions> = {},
  ): LocalTrigger => {
    const { sleepMs, exitCode, env, ...rest } = options;
    return new LocalTrigger({
      command: [process.execPath, fakePipeline],
      repository: repo,
      worktreeDir,
      reportDir: join(dir.path, "reports"),
      nodeModulesFrom: null,
      logDir: dir.path,
      pidFile: join(dir.path, "run.pid"),
      killGraceMs: 2_000,
      ...rest,
      env: {
        ...fakeEnv(record, { ...(sleepMs !== undefined ? { sleepMs } : {}), ...(exitCode !== undefined ? { exitCode } : {}) }),
        ...env,
      },
    });
  };
  /** No worktree left: neither the folder nor git's record of it. */
  const assertNoWorktrees = (repository = repo): void => {
    assert.deepEqual(entriesOf(worktreeDir), [], "the worktree folder is removed");
    assert.deepEqual(linkedWorktrees(repository), [], "git has no record of it");
  };
  beforeEach(() => {
    dir = tempDir();
    record = join(dir.path, "record.jsonl");
    repo = join(dir.path, "repo");
    commits = markerRepo(repo, 2);
    worktreeDir = join(dir.path, "state", "webhook", "worktrees");
  });
  afterEach(() => dir.cleanup());

  it("the default command is `node --import tsx <worktree>/harness/cli.ts pipeline`", () => {
    assert.deepEqual(defaultLocalCommand("/w/run-1-abc"), [
      process.execPath,
      "--import",
      "tsx",
      join("/w/run-1-abc", "harness", "cli.ts"),
      "pipeline",
    ]);
    assert.ok(existsSync(join(repoRoot, "package.json")) && existsSync(join(repoRoot, "harness")), "repoRoot is the folder above harness/");
    const trigger = make({ command: undefined });
    const plan = trigger.describe(req(commits[1] as string, 7));
    const worktree = join(worktreeDir, `run-7-${(commits[1] as string).slice(0, 7)}`);
    assert.deepEqual(plan.command, defaultLocalCommand(worktree));
    assert.equal(plan.cwd, worktree);
    assert.deepEqual(plan.git, { repository: repo, remote: "origin", commit: commits[1], worktree });
  });

  it("builds the pushed commit, not the checkout: the pipeline runs in a detached worktree at that commit, removed after", async () => {
    const [first, second] = commits as [string, string];
    git(repo, "checkout", "-q", "--detach", first); // the receiver's own checkout is at the first commit
    const trigger = make();
    const result = await trigger.run(req(second, 2), new AbortController().signal);
    assert.equal(result.outcome, "succeeded", result.reason ?? "");
    const [start] = readFakeRecords(record);
    const worktree = join(worktreeDir, `run-2-${second.slice(0, 7)}`);
    assert.equal(start?.cwd, worktree);
    assert.equal(start?.head, second);
    assert.equal(start?.marker, "marker 2");
    const log = readFileSync(result.logFile ?? "", "utf8");
    assert.match(log, /fake pipeline: marker marker 2/);
    assert.match(log, new RegExp(`# git worktree add --detach ${worktree} ${second}`));
    assert.match(log, new RegExp(`# git worktree remove --force ${worktree}`));
    assert.doesNotMatch(log, /git fetch/, "the commit was in the repository: nothing fetched");
    assertNoWorktrees();
    assert.equal(git(repo, "rev-parse", "HEAD"), first, "the receiver's checkout is untouched");
    assert.equal(git(repo, "status", "--porcelain"), "");

    const again = await trigger.run(req(first, 3), new AbortController().signal);
    assert.equal(again.outcome, "succeeded");
    assert.deepEqual(
      readFakeRecords(record)
        .filter((r) => r.phase === "start")
        .map((r) => [r.head, r.marker]),
      [
        [second, "marker 2"],
        [first, "marker 1"],
      ],
    );
    assertNoWorktrees();
  });

  it("passes commit, branch, BUILD_TAG and a per-run report folder; withholds secrets and the compose project", async () => {
    const commit = commits[1] as string;
    const trigger = make({
      env: { GITHUB_WEBHOOK_SECRET: "s", GITHUB_WEBHOOK_SECRETS: "a,b", COMPOSE_PROJECT_NAME: "shared", GIT_DIR: "/elsewhere" },
    });
    const result = await trigger.run(req(commit, 3), new AbortController().signal);
    const logFile = join(dir.path, `run-3-${commit.slice(0, 7)}.log`);
    assert.deepEqual(result, { outcome: "succeeded", reason: null, exitCode: 0, signal: null, logFile });
    const [start] = readFakeRecords(record);
    assert.equal(start?.commit, commit);
    assert.equal(start?.branch, "main");
    assert.equal(start?.buildTag, `envoy-pipeline-webhook-${commit.slice(0, 7)}-3`);
    assert.equal(start?.delivery, "delivery-3");
    assert.equal(start?.secretVisible, false);
    assert.equal(start?.composeProjectVisible, false);
    assert.equal(start?.reportDir, join(dir.path, "reports", `run-3-${commit.slice(0, 7)}`), "reports outlive the worktree");
    assert.equal(start?.head, commit, "GIT_DIR of the receiver does not leak into git or the pipeline");
    const log = readFileSync(logFile, "utf8");
    assert.match(log, /^# envoy-pipeline webhook run #3: delivery delivery-3/);
    assert.match(log, /fake pipeline: building main @ /);
    assert.match(log, /fake pipeline: a line on stderr/);
    assert.ok(!existsSync(join(dir.path, "run.pid")), "pid file removed after the run");
  });

  it("fetches a commit the repository lacks from origin, or from the remote chosen", async () => {
    const upstream = join(dir.path, "upstream");
    markerRepo(upstream, 2);
    const receiver = join(dir.path, "receiver");
    git(dir.path, "clone", "-q", "--no-local", upstream, receiver);
    const third = commitFiles(upstream, { "marker.txt": "marker 3\n" }, "pushed after the receiver cloned");
    assert.throws(() => git(receiver, "cat-file", "-e", `${third}^{commit}`), "the receiver does not have it yet");

    const fromOrigin = await make({ repository: receiver }).run(req(third, 1), new AbortController().signal);
    assert.equal(fromOrigin.outcome, "succeeded", fromOrigin.reason ?? "");
    assert.equal(readFakeRecords(record)[0]?.head, third);
    assert.equal(readFakeRecords(record)[0]?.marker, "marker 3");
    assert.match(
      readFileSync(fromOrigin.logFile ?? "", "utf8"),
      new RegExp(`# commit ${third} is not in ${receiver}: git fetch origin ${third}`),
    );
    assertNoWorktrees(receiver);

    // A second remote, named by --git-remote; origin cannot serve the commit.
    const mirror = join(dir.path, "mirror");
    git(dir.path, "clone", "-q", "--no-local", upstream, mirror);
    const fourth = commitFiles(mirror, { "marker.txt": "marker 4\n" }, "only on the mirror");
    git(receiver, "remote", "add", "mirror", mirror);
    const viaOrigin = await make({ repository: receiver }).run(req(fourth, 2), new AbortController().signal);
    assert.equal(viaOrigin.outcome, "failed");
    const viaMirror = await make({ repository: receiver, remote: "mirror" }).run(req(fourth, 3), new AbortController().signal);
    assert.equal(viaMirror.outcome, "succeeded", viaMirror.reason ?? "");
    assert.equal(
      readFakeRecords(record)
        .filter((r) => r.phase === "start")
        .at(-1)?.marker,
      "marker 4",
    );
    assertNoWorktrees(receiver);
  });

  it("an unknown commit is a failed run with git's error; nothing runs and no worktree is left", async () => {
    const upstream = join(dir.path, "upstream");
    markerRepo(upstream, 1);
    const receiver = join(dir.path, "receiver");
    git(dir.path, "clone", "-q", "--no-local", upstream, receiver);
    const unknown = sha(0xbad);
    const result = await make({ repository: receiver }).run(req(unknown), new AbortController().signal);
    assert.equal(result.outcome, "failed");
    // git's words; with a remote on the local file system, upload-pack's own line comes too, in either order.
    assert.match(
      result.reason ?? "",
      new RegExp(
        `^commit ${unknown} is not in ${receiver} and git fetch origin ${unknown} failed: ` +
          `.*fatal: remote error: upload-pack: not our ref ${unknown}`,
      ),
    );
    assert.equal(existsSync(record), false, "the pipeline never started");
    assert.match(readFileSync(result.logFile ?? "", "utf8"), /not our ref/, "git's output is in the run log too");
    assertNoWorktrees(receiver);

    // Without the remote at all: the reason says so.
    const noRemote = await make().run(req(unknown, 2), new AbortController().signal);
    assert.equal(noRemote.outcome, "failed");
    assert.match(
      noRemote.reason ?? "",
      new RegExp(
        `^commit ${unknown} is not in ${repo} and git fetch origin ${unknown} failed: ` +
          "fatal: 'origin' does not appear to be a git repository; fatal: Could not read from remote repository\\.$",
      ),
    );
    assertNoWorktrees();
  });

  it("a non-zero exit is a failed run pointing at the log; the worktree is removed", async () => {
    const result = await make({ exitCode: 3 }).run(req(commits[0] as string), new AbortController().signal);
    assert.equal(result.outcome, "failed");
    assert.equal(result.exitCode, 3);
    assert.match(result.reason ?? "", /^the pipeline exited with code 3; see .*run-1-/);
    assertNoWorktrees();
  });

  it("a program that does not exist is a failed run", async () => {
    const result = await make({ command: [join(dir.path, "no-such-program")] }).run(
      req(commits[0] as string),
      new AbortController().signal,
    );
    assert.equal(result.outcome, "failed");
    assert.match(result.reason ?? "", /^could not start .*no-such-program: spawn .* ENOENT/);
    assertNoWorktrees();
  });

  it("the commit's own scripts/bootstrap.sh runs in the worktree before the pipeline; a failing one fails the run", async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell script, with the shell's ${...}
    const bootstrap = '#!/bin/sh\necho "bootstrap in $(pwd): marker $(cat marker.txt)"\nexit "${FAKE_BOOTSTRAP_EXIT:-0}"\n';
    const commit = commitFiles(repo, { "scripts/bootstrap.sh": bootstrap, "marker.txt": "marker 3\n" }, "with a bootstrap");
    const ok = await make().run(req(commit, 1), new AbortController().signal);
    assert.equal(ok.outcome, "succeeded", ok.reason ?? "");
    const log = readFileSync(ok.logFile ?? "", "utf8");
    const worktree = join(worktreeDir, `run-1-${commit.slice(0, 7)}`);
    assert.ok(log.indexOf(`bootstrap in ${worktree}: marker marker 3`) >= 0, log);
    assert.ok(log.indexOf("bootstrap in") < log.indexOf("fake pipeline: building"), "bootstrap first");

    const failed = await make({
      env: { FAKE_BOOTSTRAP_EXIT: "3", ENVOY_PIPELINE_PASS_ENV: `${FAKE_PIPELINE_ENV},FAKE_BOOTSTRAP_EXIT` },
    }).run(req(commit, 2), new AbortController().signal);
    assert.equal(failed.outcome, "failed");
    assert.match(failed.reason ?? "", /^scripts\/bootstrap\.sh \(npm dependencies\) exited with code 3; see .*run-2-/);
    assert.equal(readFakeRecords(record).filter((r) => r.phase === "start").length, 1, "the pipeline did not run after a failed bootstrap");
    assertNoWorktrees();
  });

  it("abort kills the pipeline's process group, records it interrupted, and removes the worktree", async () => {
    const abort = new AbortController();
    const running = make({ sleepMs: 30_000 }).run(req(commits[1] as string), abort.signal);
    await waitFor("the pipeline to start", () => readFakeRecords(record).length === 1);
    const pid = readFakeRecords(record)[0]?.pid;
    assert.ok(pid !== undefined && pid > 1 && processAlive(pid));
    const pidFile = JSON.parse(readFileSync(join(dir.path, "run.pid"), "utf8")) as { pid: number; run: number; step: string };
    assert.equal(pidFile.pid, pid);
    assert.equal(pidFile.step, "pipeline");
    assert.equal(entriesOf(worktreeDir).length, 1, "the worktree exists while the pipeline runs");
    abort.abort();
    const result = await running;
    assert.equal(result.outcome, "interrupted");
    assert.equal(result.reason, "stopped by the receiver (SIGTERM) before it finished");
    assert.equal(readFakeRecords(record).at(-1)?.phase, "terminated");
    assert.equal(processAlive(pid), false);
    assertNoWorktrees();
  });

  it("what the pipeline leaves running in its process group is stopped before the worktree is removed", async () => {
    const strayPidFile = join(dir.path, "stray.pid");
    const trigger = make({
      command: ["sh", "-c", 'sleep 300 & echo $! > "$STRAY_PID_FILE"'],
      env: { STRAY_PID_FILE: strayPidFile, ENVOY_PIPELINE_PASS_ENV: `${FAKE_PIPELINE_ENV},STRAY_PID_FILE` },
    });
    const result = await trigger.run(req(commits[0] as string), new AbortController().signal);
    assert.equal(result.outcome, "succeeded", result.reason ?? "");
    const stray = Number(readFileSync(strayPidFile, "utf8"));
    assert.ok(Number.isInteger(stray) && stray > 1);
    assert.equal(processAlive(stray), false, "the stray sleep was stopped");
    assertNoWorktrees();
  });

  it("recover() waits for a pipeline left running by a crashed receiver, then removes the worktrees the crash left", async () => {
    // What a crash leaves: a worktree of a run, a half-made folder, and a pipeline still running.
    const stale = join(worktreeDir, "run-4-0000000");
    git(repo, "worktree", "add", "-q", "--detach", stale, commits[0] as string);
    mkdirSync(join(worktreeDir, "run-5-1111111", "half"), { recursive: true });
    const orphan = spawn(process.execPath, [fakePipeline], { env: fakeEnv(record, { sleepMs: 2_000 }), detached: true, stdio: "ignore" });
    await waitFor("orphan start", () => readFakeRecords(record).length === 1);
    writeFileSync(
      join(dir.path, "run.pid"),
      JSON.stringify({ pid: orphan.pid, run: 1, buildTag: "t", startedAt: new Date().toISOString() }),
    );
    assert.ok(orphan.pid !== undefined && orphan.pid > 1 && processAlive(orphan.pid), "the orphan runs when recover() is called");
    assert.equal(linkedWorktrees(repo).length, 1);
    const warnings: string[] = [];
    await make({ log: { info: () => undefined, warn: (m) => warnings.push(m) } }).recover(new AbortController().signal);
    assert.ok(
      readFakeRecords(record).some((r) => r.phase === "end"),
      "the orphan had ended when recover() returned",
    );
    assert.ok(!existsSync(join(dir.path, "run.pid")));
    assertNoWorktrees();
    assert.equal(warnings.filter((w) => w.startsWith("stale worktree from before the restart:")).length, 2, warnings.join("\n"));
  });

  it("recover() ignores a pid file naming a process that is gone", async () => {
    writeFileSync(join(dir.path, "run.pid"), JSON.stringify({ pid: 4194305, run: 1, buildTag: "t", startedAt: "x" }));
    await make().recover(new AbortController().signal);
    assert.ok(!existsSync(join(dir.path, "run.pid")));
  });

  // The default command, for real: the worktree's own harness/cli.ts through `node --import tsx`,
  // after the worktree's own scripts/bootstrap.sh (this repository's). The commit's
  // package-lock.json is this repository's, so the receiver's node_modules is hard-linked in and
  // the bootstrap finds its stamp current: it installs nothing (no network).
  it("default command: hard-links node_modules when the lock files match, then runs the worktree's own harness/cli.ts", async () => {
    const cli = [
      'import { lstatSync, readFileSync, statSync } from "node:fs";',
      'import { fileURLToPath } from "node:url";',
      "const info: Record<string, unknown> = {",
      "  args: process.argv.slice(2),",
      "  script: fileURLToPath(import.meta.url),",
      "  cwd: process.cwd(),",
      '  marker: readFileSync("marker.txt", "utf8").trim(),',
      '  nodeModulesIsSymlink: lstatSync("node_modules").isSymbolicLink(),',
      '  tsxInode: statSync("node_modules/tsx/package.json").ino,',
      "};",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: source text of a module the test writes
      "process.stdout.write(`worktree cli: ${JSON.stringify(info)}\\n`);",
      "",
    ].join("\n");
    const commit = commitFiles(
      repo,
      {
        "harness/cli.ts": cli,
        "package-lock.json": readFileSync(join(repoRoot, "package-lock.json")),
        "scripts/bootstrap.sh": readFileSync(join(repoRoot, "scripts", "bootstrap.sh")),
        "scripts/node-env.sh": readFileSync(join(repoRoot, "scripts", "node-env.sh")),
        "marker.txt": "marker with a cli\n",
      },
      "a checkout shaped like this repository",
    );
    const trigger = make({ command: undefined, nodeModulesFrom: repoRoot });
    const result = await trigger.run(req(commit, 1), new AbortController().signal);
    const log = readFileSync(result.logFile ?? "", "utf8");
    assert.equal(result.outcome, "succeeded", `${result.reason}\n${log}`);
    const worktree = join(worktreeDir, `run-1-${commit.slice(0, 7)}`);
    const info = JSON.parse(/^worktree cli: (.*)$/m.exec(log)?.[1] ?? "null") as Record<string, unknown>;
    assert.deepEqual(info, {
      args: ["pipeline"],
      script: join(worktree, "harness", "cli.ts"),
      cwd: worktree,
      marker: "marker with a cli",
      nodeModulesIsSymlink: false,
      tsxInode: statSync(join(repoRoot, "node_modules", "tsx", "package.json")).ino,
    });
    assert.match(log, /# node_modules: hard-linked from .*node_modules \(identical package-lock\.json\)/);
    assert.match(log, /# sh scripts\/bootstrap\.sh/);
    assert.doesNotMatch(log, /installing npm dependencies/, "the bootstrap found node_modules current");
    assertNoWorktrees();
    assert.ok(existsSync(join(repoRoot, "node_modules", "tsx", "package.json")), "the receiver's node_modules is intact");
  });

  it("a different package-lock.json is not given the receiver's node_modules", async () => {
    const commit = commitFiles(
      repo,
      {
        "package-lock.json": "{}\n",
        "scripts/bootstrap.sh": 'test -e node_modules && echo "node_modules present" || echo "node_modules absent"\n',
      },
      "another lock file",
    );
    const result = await make({ nodeModulesFrom: repoRoot }).run(req(commit), new AbortController().signal);
    assert.equal(result.outcome, "succeeded", result.reason ?? "");
    const log = readFileSync(result.logFile ?? "", "utf8");
    assert.match(log, /# node_modules: package-lock\.json differs from the receiver's/);
    assert.match(log, /^node_modules absent$/m);
    assertNoWorktrees();
  });
});
