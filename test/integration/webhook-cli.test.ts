// `envoy-pipeline webhook` and `runs` as processes: a bare commander program with
// the real CLI entry (harness/cli.ts), real signals, a real crash.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "vitest";
import { Command } from "commander";
import { registerWebhookCommands } from "../../harness/webhook/cli.ts";
import { statePaths } from "../../harness/webhook/paths.ts";
import { runsJsonSchema } from "../../harness/webhook/runs.ts";
import {
  FAKE_PIPELINE_ENV,
  SECRET,
  cliEntry,
  deliver,
  entriesOf,
  fakePipeline,
  fixture,
  git,
  linkedWorktrees,
  markerRepo,
  processAlive,
  pushPayload,
  readFakeRecords,
  repoRootForTests,
  tempDir,
  waitFor,
} from "../fixtures/webhook/helpers.ts";

interface Cli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The URL from the first stderr line. */
  url: Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let dir: { path: string; cleanup: () => void };
let record: string;
/** The repository the receiver builds from (--git-repository), and its commits. */
let repo: string;
let commits: string[];
const c = (n: number): string => commits[n - 1] as string;
const children: ChildProcess[] = [];
const orphans: number[] = [];

function cli(args: string[], env: NodeJS.ProcessEnv = {}, entry = cliEntry): Cli {
  const child = spawn(process.execPath, ["--import", "tsx", entry, ...args], {
    cwd: repoRootForTests,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GITHUB_WEBHOOK_SECRET: SECRET,
      ENVOY_PIPELINE_LOCAL_COMMAND: JSON.stringify([process.execPath, fakePipeline]),
      ENVOY_PIPELINE_PASS_ENV: FAKE_PIPELINE_ENV,
      FAKE_PIPELINE_RECORD: record,
      FAKE_PIPELINE_SLEEP_MS: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  let resolveUrl: (u: string) => void = () => undefined;
  let rejectUrl: (e: Error) => void = () => undefined;
  const url = new Promise<string>((res, rej) => {
    resolveUrl = res;
    rejectUrl = rej;
  });
  child.stderr?.on("data", (c: Buffer) => {
    err += c.toString();
    const nl = err.indexOf("\n");
    if (nl >= 0) {
      const first = err.slice(0, nl);
      const m = /^listening on (http:\/\/127\.0\.0\.1:\d+\/github-webhook\/)$/.exec(first);
      if (m?.[1]) resolveUrl(m[1]);
      else rejectUrl(new Error(`first stderr line is not the listening line: ${JSON.stringify(first)}\n${err}`));
    }
  });
  url.catch(() => undefined); // only tests that await the URL care about its failure
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once("exit", (code, signal) => {
      rejectUrl(new Error(`exited (${code ?? signal}) before listening:\n${err}`));
      res({ code, signal });
    }),
  );
  return { child, stdout: () => out, stderr: () => err, url, exit };
}

/** The pid of a fake pipeline record; fails the test rather than ever yielding 0. */
function pidOf(r: { pid: number } | undefined): number {
  assert.ok(r && Number.isInteger(r.pid) && r.pid > 1, "a pipeline pid");
  return r.pid;
}

/** The repository of the push fixture, the one the local trigger builds. */
const REPOSITORY = "Codertocat/Hello-World";

/** `webhook` on a free port with this test's state dir and (for the local trigger) repository. */
const webhookArgs = (...extra: string[]) => [
  "webhook",
  "--port",
  "0",
  "--state-dir",
  dir.path,
  ...(extra.includes("jenkins") ? [] : ["--git-repository", repo, ...(extra.includes("--repository") ? [] : ["--repository", REPOSITORY])]),
  ...extra,
];

beforeEach(() => {
  dir = tempDir();
  record = join(dir.path, "pipeline-record.jsonl");
  repo = join(dir.path, "repo");
  commits = markerRepo(repo, 3);
});

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const pid of orphans.splice(0)) {
    if (!Number.isInteger(pid) || pid <= 1) continue; // never kill(0)/kill(-1): that would hit our own group or everything
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  dir.cleanup();
});

describe("envoy-pipeline webhook (process)", () => {
  // Every test runs the real CLI entry, harness/cli.ts. The pipeline itself is the fake
  // (ENVOY_PIPELINE_LOCAL_COMMAND): the real `pipeline` stage needs Docker.
  it("works through the real harness/cli.ts entry", async () => {
    const run = cli(webhookArgs());
    const url = await run.url;
    const res = await deliver(url, { payload: pushPayload({ after: c(3) }) });
    assert.equal(res.status, 202);
    await waitFor("the run to end", () => readFakeRecords(record).some((r) => r.phase === "end"));
    run.child.kill("SIGTERM");
    assert.equal((await run.exit).code, 0);
    assert.equal(readFakeRecords(record)[0]?.commit, c(3));
    const table = cli(["runs", "--state-dir", dir.path]);
    assert.equal((await table.exit).code, 0);
    assert.match(table.stdout(), new RegExp(`${c(3).slice(0, 7)}\\s+succeeded`));
  });

  it("refuses to start without a secret: exit 2 and a message naming GITHUB_WEBHOOK_SECRET", async () => {
    const run = cli(webhookArgs(), { GITHUB_WEBHOOK_SECRET: "" });
    const { code } = await run.exit;
    assert.equal(code, 2);
    assert.match(run.stderr(), /error: refusing to start without a webhook secret: set GITHUB_WEBHOOK_SECRET/);
    assert.doesNotMatch(run.stderr(), /listening on/);
    assert.equal(existsSync(statePaths(dir.path).log), false);
  });

  it("--trigger jenkins without its configuration fails at start-up naming what is missing", async () => {
    const run = cli(webhookArgs("--trigger", "jenkins", "--jenkins-job", "a/b"), { JENKINS_URL: "http://127.0.0.1:9/" });
    assert.equal((await run.exit).code, 2);
    assert.match(run.stderr(), /--trigger jenkins: missing environment variables JENKINS_USER \(or JENKINS_USER_ID\), JENKINS_API_TOKEN/);
    const noJob = cli(webhookArgs("--trigger", "jenkins"), {
      JENKINS_URL: "http://127.0.0.1:9/",
      JENKINS_USER: "u",
      JENKINS_API_TOKEN: "t",
    });
    assert.equal((await noJob.exit).code, 2);
    assert.match(noJob.stderr(), /missing --jenkins-job <name>/);
  });

  it("--git-repository and --git-remote are checked at start-up (exit 2); a missing default origin is only a warning", async () => {
    const notRepo = cli(webhookArgs("--git-repository", dir.path));
    assert.equal((await notRepo.exit).code, 2);
    assert.match(
      notRepo.stderr(),
      new RegExp(`error: --git-repository '${dir.path}': not a git repository \\(fatal: not a git repository`),
    );
    const unknownRemote = cli(webhookArgs("--git-remote", "upstream"));
    assert.equal((await unknownRemote.exit).code, 2);
    assert.match(unknownRemote.stderr(), /error: --git-remote 'upstream': not a remote of .* \(it has no remotes\), nor a URL or path/);
    const optionLike = cli(webhookArgs("--git-remote", "--upload-pack=touch /tmp/x"));
    assert.equal((await optionLike.exit).code, 2);
    assert.match(optionLike.stderr(), /error: --git-remote: '--upload-pack=touch \/tmp\/x' must not start with '-'/);
    const forJenkins = cli([...webhookArgs("--trigger", "jenkins", "--jenkins-job", "a"), "--git-remote", "origin"], {
      JENKINS_URL: "http://127.0.0.1:9/",
      JENKINS_USER: "u",
      JENKINS_API_TOKEN: "t",
    });
    assert.equal((await forJenkins.exit).code, 2);
    assert.match(forJenkins.stderr(), /error: --git-remote: is only for --trigger local/);

    const run = cli(webhookArgs());
    await run.url; // the listening line comes first, the warning after it
    // Both start-up lines, which may arrive in separate chunks.
    await waitFor(
      "the warning and the trigger line",
      () => /has no remote 'origin'/.test(run.stderr()) && /the local pipeline for .* \(worktrees of/.test(run.stderr()),
    );
    assert.match(
      run.stderr(),
      new RegExp(
        `warning: ${repo} has no remote 'origin' \\(it has no remotes\\): ` +
          "a pushed commit that is not already in the repository cannot be fetched",
      ),
    );
    assert.match(run.stderr(), new RegExp(`the local pipeline for ${REPOSITORY} \\(worktrees of ${repo}, fetching from origin\\)`));
    run.child.kill("SIGTERM");
    assert.equal((await run.exit).code, 0);
  });

  it("--trigger local builds exactly one repository: given once, or derived from the remote's URL; else exit 2", async () => {
    const base = ["webhook", "--port", "0", "--state-dir", dir.path, "--git-repository", repo];
    const neither = cli(base);
    assert.equal((await neither.exit).code, 2);
    assert.match(neither.stderr(), /error: --trigger local: give --repository owner\/name \(remote 'origin' of .* does not exist\)\n$/);
    const two = cli([...base, "--repository", "a/b", "--repository", "c/d"]);
    assert.equal((await two.exit).code, 2);
    assert.match(two.stderr(), /error: --trigger local builds one repository; --repository was given 2 times/);
    git(repo, "remote", "add", "origin", "git@github.com:Octo-Org/octo-repo.git");
    const derived = cli(base);
    await derived.url;
    await waitFor("the trigger line", () => /the local pipeline for /.test(derived.stderr()));
    assert.match(derived.stderr(), /the local pipeline for Octo-Org\/octo-repo \(/);
    const other = await deliver(await derived.url, { payload: pushPayload() });
    assert.equal(other.status, 200);
    assert.match(String(other.json.reason), /repository Codertocat\/Hello-World is not one of Octo-Org\/octo-repo/);
    derived.child.kill("SIGTERM");
    assert.equal((await derived.exit).code, 0);
  });

  it("--git-remote: a commit missing from the repository is fetched from that remote", async () => {
    const upstream = join(dir.path, "upstream");
    const [pushed] = markerRepo(upstream, 1) as [string];
    git(repo, "remote", "add", "github", upstream);
    const run = cli(webhookArgs("--git-remote", "github"));
    const url = await run.url;
    assert.equal((await deliver(url, { payload: pushPayload({ after: pushed }) })).status, 202);
    await waitFor("the run to end", () => readFakeRecords(record).some((r) => r.phase === "end"));
    run.child.kill("SIGTERM");
    assert.equal((await run.exit).code, 0);
    assert.deepEqual(
      readFakeRecords(record).map((r) => [r.phase, r.head]),
      [
        ["start", pushed],
        ["end", pushed],
      ],
    );
    assert.deepEqual(linkedWorktrees(repo), []);
  });

  it("prints the listening URL as the first stderr line, answers, and stops on SIGTERM with exit 0", async () => {
    const run = cli(webhookArgs());
    const url = await run.url;
    const ping = await deliver(url, { event: "ping", payload: fixture("ping") });
    assert.equal(ping.status, 200);
    assert.ok(existsSync(statePaths(dir.path).lock));
    run.child.kill("SIGTERM");
    const { code } = await run.exit;
    assert.equal(code, 0);
    assert.match(run.stderr(), /SIGTERM: not accepting deliveries any more/);
    assert.match(run.stderr(), /stopped\n$/);
    assert.equal(existsSync(statePaths(dir.path).lock), false, "lock released");
  });

  it("SIGTERM lets the running pipeline finish; queued deliveries stay queued for the next start", async () => {
    const release = join(dir.path, "release-1");
    const run = cli(webhookArgs(), { FAKE_PIPELINE_UNTIL_FILE: release });
    const url = await run.url;
    await deliver(url, { payload: pushPayload({ after: c(1) }) });
    await waitFor("the run to start", () => readFakeRecords(record).length === 1);
    const queued = randomUUID();
    assert.equal((await deliver(url, { id: queued, payload: pushPayload({ after: c(2) }) })).status, 202);
    run.child.kill("SIGTERM");
    await waitFor("the receiver to say it waits", () => /waiting for run #1 to finish/.test(run.stderr()));
    assert.equal(run.child.exitCode, null, "still running while the pipeline runs");
    assert.equal(readFakeRecords(record).length, 1, "the pipeline has not finished yet");
    writeFileSync(release, "");
    const { code } = await run.exit;
    assert.equal(code, 0);
    assert.deepEqual(
      readFakeRecords(record).map((r) => [r.phase, r.commit]),
      [
        ["start", c(1)],
        ["end", c(1)],
      ],
    );
    assert.match(run.stderr(), /waiting for run #1 to finish \(SIGTERM again kills it\)/);
    assert.match(run.stderr(), /1 queued delivery stays recorded; resumed at the next start/);
    const views = await runsJson();
    assert.deepEqual(
      views.map((d) => d.outcome),
      ["succeeded", "queued"],
    );
    assert.equal(views[1]?.id, queued);
  });

  it("a second signal kills the running pipeline; it is recorded interrupted and queued for the next start", async () => {
    const run = cli(webhookArgs(), { FAKE_PIPELINE_SLEEP_MS: "30000" });
    const url = await run.url;
    const id = randomUUID();
    await deliver(url, { id, payload: pushPayload({ after: c(1) }) });
    await waitFor("the run to start", () => readFakeRecords(record).length === 1);
    const pipelinePid = pidOf(readFakeRecords(record)[0]);
    orphans.push(pipelinePid);
    run.child.kill("SIGINT");
    await waitFor("the first signal to be handled", () => /SIGINT: not accepting/.test(run.stderr()));
    run.child.kill("SIGINT");
    const { code } = await run.exit;
    assert.equal(code, 0);
    assert.equal(readFakeRecords(record).at(-1)?.phase, "terminated");
    assert.equal(processAlive(pipelinePid), false);
    const view = (await runsJson()).find((d) => d.id === id);
    assert.equal(view?.outcome, "queued");
    assert.equal(view?.runs[0]?.outcome, "interrupted");
  });

  it("after a crash (SIGKILL) a restart resumes the queued push, only once the orphaned pipeline is gone", async () => {
    // a's pipeline runs until the test releases it, after the restart has seen it.
    const release = join(dir.path, "release-a");
    const env = { FAKE_PIPELINE_UNTIL_FILE: release };
    const first = cli(webhookArgs(), env);
    const url = await first.url;
    const a = randomUUID();
    const b = randomUUID();
    await deliver(url, { id: a, payload: pushPayload({ after: c(1) }) });
    await waitFor("a to start", () => readFakeRecords(record).length === 1);
    orphans.push(pidOf(readFakeRecords(record)[0]));
    assert.equal((await deliver(url, { id: b, payload: pushPayload({ after: c(2) }) })).status, 202);
    first.child.kill("SIGKILL");
    await first.exit;

    const second = cli(webhookArgs(), { FAKE_PIPELINE_UNTIL_FILE: "", FAKE_PIPELINE_SLEEP_MS: "0" });
    const url2 = await second.url;
    await waitFor("the restart to wait for the orphan", () =>
      /from before the restart is still running; waiting for it to exit/.test(second.stderr()),
    );
    assert.equal(readFakeRecords(record).length, 1, "nothing else ran while the orphan runs");
    writeFileSync(release, "");
    await waitFor("b to run", () => readFakeRecords(record).filter((r) => r.phase === "end").length === 2, 15_000);
    const records = readFakeRecords(record);
    assert.deepEqual(
      records.map((r) => [r.phase, r.commit]),
      [
        ["start", c(1)],
        ["end", c(1)],
        ["start", c(2)],
        ["end", c(2)],
      ],
    );
    assert.ok((records[2]?.at ?? 0) >= (records[1]?.at ?? Infinity), "b started after the orphan of a ended");
    assert.match(second.stderr(), /taking over the state of receiver pid \d+, which is gone/);
    assert.match(second.stderr(), /from before the restart is still running; waiting for it to exit/);
    // The crash left run #1's worktree; it is removed once the orphan is gone, before run #2.
    assert.match(
      second.stderr(),
      new RegExp(`stale worktree from before the restart: git worktree remove --force \\S+/run-1-${c(1).slice(0, 7)}`),
    );
    assert.equal(records[0]?.cwd, join(statePaths(dir.path).worktrees, `run-1-${c(1).slice(0, 7)}`));
    assert.equal(records[2]?.head, c(2), "b ran at its own commit");
    // Redelivering a after the crash does not run it again.
    assert.equal((await deliver(url2, { id: a, payload: pushPayload({ after: c(1) }) })).json.outcome, "duplicate");
    second.child.kill("SIGTERM");
    assert.equal((await second.exit).code, 0);
    // b's worktree went when its run ended (the receiver waited for that before exiting); a's at the restart.
    assert.deepEqual(entriesOf(statePaths(dir.path).worktrees), []);
    assert.deepEqual(linkedWorktrees(repo), []);

    const list = await runsJson();
    const byId = new Map(list.map((d) => [d.id, d]));
    assert.equal(byId.get(a)?.outcome, "interrupted");
    assert.equal(byId.get(a)?.redeliveries, 1);
    assert.equal(byId.get(b)?.outcome, "succeeded");
    assert.equal(byId.get(b)?.runs[0]?.run, 2);

    const table = cli(["runs", "--state-dir", dir.path]);
    assert.equal((await table.exit).code, 0);
    const lines = table.stdout().trimEnd().split("\n");
    assert.match(lines[0] ?? "", /^RECEIVED\s+DELIVERY\s+EVENT\s+REPOSITORY\s+BRANCH\s+COMMIT\s+OUTCOME\s+RUN\s+DETAIL$/);
    assert.equal(lines.length, 3);
    assert.match(
      lines[1] ?? "",
      new RegExp(`${a}\\s+push\\s+Codertocat/Hello-World\\s+master\\s+${c(1).slice(0, 7)}\\s+interrupted\\s+#1\\s+.*1 redelivery ignored`),
    );
    assert.match(lines[2] ?? "", new RegExp(`${b}\\s+push .*succeeded\\s+#2`));
  });
});

/** `runs --json` (in this process: the same command code, without another tsx start-up), parsed with the published schema. */
async function runsJson() {
  const out: string[] = [];
  const codes: number[] = [];
  const p = new Command("envoy-pipeline").exitOverride();
  registerWebhookCommands(p, { stdout: (t) => out.push(t), setExitCode: (c) => codes.push(c) });
  await p.parseAsync(["runs", "--json", "--state-dir", dir.path], { from: "user" });
  assert.deepEqual(codes, [0]);
  return runsJsonSchema.parse(JSON.parse(out.join("")));
}

describe("envoy-pipeline runs (in process)", () => {
  const program = (out: string[], logs: string[], codes: number[]) => {
    const p = new Command("envoy-pipeline").exitOverride();
    registerWebhookCommands(p, {
      stdout: (t) => out.push(t),
      log: { info: (m) => logs.push(m), warn: (m) => logs.push(m) },
      setExitCode: (c) => codes.push(c),
    });
    return p;
  };

  it("--json prints a schema-valid array; an empty state prints []", async () => {
    const out: string[] = [];
    const codes: number[] = [];
    await program(out, [], codes).parseAsync(["runs", "--json", "--state-dir", dir.path], { from: "user" });
    assert.deepEqual(JSON.parse(out.join("")), []);
    assert.deepEqual(codes, [0]);
  });

  it("reports a corrupt state file with its line, exit code 1", async () => {
    const { mkdirSync, writeFileSync } = await import("node:fs");
    mkdirSync(statePaths(dir.path).dir, { recursive: true });
    writeFileSync(statePaths(dir.path).log, '{"v":2}\n');
    const logs: string[] = [];
    const codes: number[] = [];
    await program([], logs, codes).parseAsync(["runs", "--state-dir", dir.path], { from: "user" });
    assert.deepEqual(codes, [1]);
    assert.match(logs.join("\n"), /^error: .*deliveries\.jsonl:1: /);
  });

  it("rejects a bad --limit with exit code 2", async () => {
    const logs: string[] = [];
    const codes: number[] = [];
    await program([], logs, codes).parseAsync(["runs", "--limit", "0", "--state-dir", dir.path], { from: "user" });
    assert.deepEqual(codes, [2]);
    assert.match(logs.join("\n"), /--limit: '0' is not a positive whole number/);
  });
});
