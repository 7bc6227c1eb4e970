// Issue 22's smaller webhook findings and issue 23's Jenkins names: untrusted strings printed
// escaped, '.'/'..' never address another Jenkins job, children get an allow-listed environment,
// the token never goes over plain http to another host, JENKINS_USER_ID is read.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { printable } from "../../harness/lib/printable.ts";
import { gitBaseEnv, pipelineEnv } from "../../harness/webhook/child-env.ts";
import { jenkinsFromEnv } from "../../harness/webhook/config.ts";
import { RefusalLog } from "../../harness/webhook/refusals.ts";
import { formatRunsTable } from "../../harness/webhook/runs.ts";
import type { DeliveryView } from "../../harness/webhook/state.ts";
import { jobPath, multibranchJobName } from "../../harness/webhook/triggers/jenkins.ts";
import { sha } from "../fixtures/webhook/helpers.ts";

const env = { JENKINS_URL: "https://ci.example.com/", JENKINS_USER: "bot", JENKINS_API_TOKEN: "t0k" };

describe("untrusted strings", () => {
  it("are printed as they are when safe, as a JSON literal when they hold controls, separators or bidi marks", () => {
    assert.equal(printable("feature/x-1"), "feature/x-1");
    assert.equal(printable("main\n[  1.0s] run #9: succeeded"), '"main\\n[  1.0s] run #9: succeeded"');
    assert.equal(printable("x\u001b[2J"), '"x\\u001b[2J"');
    assert.equal(printable("a\u2028b\u202ec\u007f"), '"a\\u2028b\\u202ec\\u007f"');
  });

  it("a branch with a newline cannot forge a row of `runs`", () => {
    const view: DeliveryView = {
      id: "d1",
      event: "push",
      repository: "o/r",
      ref: "refs/heads/x\nd2  push  o/r  main  0000000  succeeded",
      branch: "x\nd2  push  o/r  main  0000000  succeeded",
      commit: sha(1),
      receivedAt: "2026-01-01T00:00:00.000Z",
      outcome: "ignored",
      reason: "branch x\nd2 is not the default branch",
      supersedes: [],
      supersededBy: null,
      redeliveries: 0,
      lastRedeliveryAt: null,
      runs: [],
    };
    const table = formatRunsTable([view]);
    assert.equal(table.split("\n").length, 2, table);
    assert.match(table, /"x\\nd2 {2}push/);
  });

  it("refusals: the first is logged, the rest summed up with counts", () => {
    const lines: string[] = [];
    const log = new RefusalLog({ info: (m) => lines.push(m), warn: (m) => lines.push(m) });
    for (let i = 0; i < 5; i++) log.note(401, "missing X-Hub-Signature-256 header");
    log.note(401, "bad\nline");
    log.flush();
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.match(lines[1] ?? "", /^refused 5 more deliveries: 4 × 401: missing X-Hub-Signature-256 header; 1 × 401: "bad\\nline"$/);
  });
});

describe("Jenkins job addressing", () => {
  it("a branch '.' or '..' has no multibranch job (it would address this folder or its parent)", () => {
    assert.equal(multibranchJobName(".."), undefined);
    assert.equal(multibranchJobName("."), undefined);
    assert.throws(() => jobPath("team/app/{branch}", ".."), /has no multibranch job name/);
    assert.equal(jobPath("team/app/{branch}", "..x"), "job/team/job/app/job/..x/");
  });

  it("--jenkins-job with a '.' or '..' segment is refused", () => {
    for (const job of ["../other", "a/./b", "a/.."]) {
      assert.throws(() => jenkinsFromEnv(env, job), /has a '\.' or '\.\.' segment/, job);
    }
  });
});

describe("Jenkins credentials", () => {
  it("a plain-http JENKINS_URL is refused unless loopback or --allow-insecure-jenkins", () => {
    assert.throws(
      () => jenkinsFromEnv({ ...env, JENKINS_URL: "http://ci.example.com/" }, "j"),
      /plain http, which would send JENKINS_API_TOKEN in clear text/,
    );
    assert.equal(jenkinsFromEnv({ ...env, JENKINS_URL: "http://ci.example.com/" }, "j", true).url.protocol, "http:");
    for (const url of ["http://127.0.0.1:8080/", "http://localhost/", "http://[::1]:8080/"]) {
      assert.equal(jenkinsFromEnv({ ...env, JENKINS_URL: url }, "j").url.protocol, "http:", url);
    }
  });

  it("JENKINS_USER_ID (Jenkins' CLI's name) is read beside JENKINS_USER; two different users are refused", () => {
    const { JENKINS_USER: _, ...rest } = env;
    assert.equal(jenkinsFromEnv({ ...rest, JENKINS_USER_ID: "cli-bot" }, "j").user, "cli-bot");
    assert.equal(jenkinsFromEnv({ ...env, JENKINS_USER_ID: "bot" }, "j").user, "bot");
    assert.throws(() => jenkinsFromEnv({ ...env, JENKINS_USER_ID: "other" }, "j"), /name different users/);
    assert.throws(() => jenkinsFromEnv(rest, "j"), /missing environment variable JENKINS_USER \(or JENKINS_USER_ID\)/);
  });
});

describe("children's environment (allow-list)", () => {
  const receiver = {
    PATH: "/usr/bin",
    HOME: "/home/ci",
    DOCKER_HOST: "unix:///run/docker.sock",
    LC_ALL: "C.UTF-8",
    ENVOY_PIPELINE_STATE_DIR: "/var/lib/ep",
    ENVOY_PIPELINE_GITHUB_TOKEN: "ghp_x",
    ENVOY_PIPELINE_PROJECT: "shared",
    COMPOSE_PROJECT_NAME: "shared",
    GITHUB_WEBHOOK_SECRET: "s",
    GITHUB_WEBHOOK_SECRETS: "a,b",
    JENKINS_API_TOKEN: "t",
    JENKINS_USER: "bot",
    AWS_SECRET_ACCESS_KEY: "k",
    GIT_DIR: "/elsewhere",
    SSH_AUTH_SOCK: "/tmp/agent",
    RANDOM_THING: "x",
  };

  it("the pipeline gets the basics, Docker, locale and ENVOY_PIPELINE_* (not secrets, not the compose project)", () => {
    assert.deepEqual(Object.keys(pipelineEnv(receiver)).sort(), ["DOCKER_HOST", "ENVOY_PIPELINE_STATE_DIR", "HOME", "LC_ALL", "PATH"]);
  });

  it("git gets only what git needs", () => {
    assert.deepEqual(Object.keys(gitBaseEnv(receiver)).sort(), ["HOME", "LC_ALL", "PATH", "SSH_AUTH_SOCK"]);
  });

  it("ENVOY_PIPELINE_PASS_ENV adds names an administrator chose", () => {
    assert.equal(pipelineEnv({ ...receiver, ENVOY_PIPELINE_PASS_ENV: "RANDOM_THING" }).RANDOM_THING, "x");
    assert.equal(pipelineEnv({ ...receiver, ENVOY_PIPELINE_PASS_ENV: "RANDOM_THING" }).ENVOY_PIPELINE_PASS_ENV, undefined);
  });
});
