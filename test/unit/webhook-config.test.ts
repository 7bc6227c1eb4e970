import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { jenkinsFromEnv, localCommandFromEnv, parseWebhookFlags, secretsFromEnv } from "../../harness/webhook/config.ts";
import { WebhookConfigError } from "../../harness/webhook/errors.ts";
import { gitError, repositoryOfRemoteUrl } from "../../harness/webhook/git.ts";
import { cookieHeader, jobPath } from "../../harness/webhook/triggers/jenkins.ts";

const flags = (over: Record<string, unknown> = {}) => ({
  port: "0",
  host: "127.0.0.1",
  branch: [],
  repository: [],
  trigger: "local",
  dryRun: false,
  stateDir: ".envoy-pipeline",
  maxBodyBytes: String(25 * 1024 * 1024),
  ...over,
});

describe("secretsFromEnv", () => {
  it("refuses to go on without a secret, naming the variable", () => {
    assert.throws(
      () => secretsFromEnv({}),
      (err: Error) => err instanceof WebhookConfigError && /GITHUB_WEBHOOK_SECRET/.test(err.message),
    );
    assert.throws(() => secretsFromEnv({ GITHUB_WEBHOOK_SECRET: "", GITHUB_WEBHOOK_SECRETS: " " }), /refusing to start/);
  });

  it("takes GITHUB_WEBHOOK_SECRET literally, commas included", () => {
    assert.deepEqual(secretsFromEnv({ GITHUB_WEBHOOK_SECRET: "a,b" }), ["a,b"]);
  });

  it("splits GITHUB_WEBHOOK_SECRETS on commas for rotation, after the single secret", () => {
    assert.deepEqual(secretsFromEnv({ GITHUB_WEBHOOK_SECRET: "s0", GITHUB_WEBHOOK_SECRETS: "new, old ,s0" }), ["s0", "new", "old"]);
    assert.throws(() => secretsFromEnv({ GITHUB_WEBHOOK_SECRETS: "new,,old" }), /GITHUB_WEBHOOK_SECRETS: entry 2 is empty/);
  });
});

describe("jenkinsFromEnv", () => {
  const env = { JENKINS_URL: "https://ci.example.com/jenkins", JENKINS_USER: "bot", JENKINS_API_TOKEN: "t0k" };

  it("names every missing variable and the missing job at once", () => {
    assert.throws(
      () => jenkinsFromEnv({ JENKINS_USER: "bot" }, undefined),
      (err: Error) =>
        err instanceof WebhookConfigError &&
        err.message === "--trigger jenkins: missing environment variables JENKINS_URL, JENKINS_API_TOKEN; missing --jenkins-job <name>",
    );
    assert.throws(() => jenkinsFromEnv({ ...env, JENKINS_API_TOKEN: " " }, "job"), /missing environment variable JENKINS_API_TOKEN$/);
  });

  it("normalises the URL to end with / and keeps its context path", () => {
    const s = jenkinsFromEnv(env, "a/b");
    assert.equal(s.url.href, "https://ci.example.com/jenkins/");
    assert.equal(s.job, "a/b");
  });

  it("rejects bad URLs, URLs with credentials and empty folder segments", () => {
    assert.throws(() => jenkinsFromEnv({ ...env, JENKINS_URL: "ci.example.com" }, "j"), /JENKINS_URL: 'ci.example.com' is not a URL/);
    assert.throws(() => jenkinsFromEnv({ ...env, JENKINS_URL: "ftp://ci" }, "j"), /must be http/);
    assert.throws(() => jenkinsFromEnv({ ...env, JENKINS_URL: "https://u:p@ci" }, "j"), /must not carry credentials/);
    assert.throws(() => jenkinsFromEnv(env, "a//b"), /--jenkins-job 'a\/\/b': .*empty folder segment/);
  });
});

describe("jobPath and cookieHeader", () => {
  it("maps folders a/b to job/a/job/b/ and encodes names", () => {
    assert.equal(jobPath("envoy"), "job/envoy/");
    assert.equal(jobPath("team/envoy pipeline"), "job/team/job/envoy%20pipeline/");
  });

  it("keeps only name=value of each Set-Cookie", () => {
    assert.equal(cookieHeader("JSESSIONID.x=abc; Path=/; HttpOnly"), "JSESSIONID.x=abc");
    assert.equal(cookieHeader(["a=1; Path=/", "b=2"]), "a=1; b=2");
    assert.equal(cookieHeader(undefined), undefined);
  });
});

describe("localCommandFromEnv", () => {
  it("reads a JSON array of strings", () => {
    assert.deepEqual(localCommandFromEnv({ ENVOY_PIPELINE_LOCAL_COMMAND: '["node","x.js","--flag"]' }), ["node", "x.js", "--flag"]);
    assert.equal(localCommandFromEnv({}), undefined);
  });

  it("reports what is wrong and where", () => {
    assert.throws(() => localCommandFromEnv({ ENVOY_PIPELINE_LOCAL_COMMAND: "node x.js" }), /ENVOY_PIPELINE_LOCAL_COMMAND: not JSON/);
    assert.throws(() => localCommandFromEnv({ ENVOY_PIPELINE_LOCAL_COMMAND: '["node", 3]' }), /ENVOY_PIPELINE_LOCAL_COMMAND: 1: /);
    assert.throws(() => localCommandFromEnv({ ENVOY_PIPELINE_LOCAL_COMMAND: "[]" }), /must name a program/);
  });
});

describe("parseWebhookFlags", () => {
  it("coerces and normalises", () => {
    const f = parseWebhookFlags(flags({ port: "8080", branch: ["main", "refs/heads/release", "main"] }));
    assert.equal(f.port, 8080);
    assert.deepEqual(f.branches, ["main", "release"]);
  });

  it("names the flag that is wrong", () => {
    assert.throws(() => parseWebhookFlags(flags({ port: "http" })), /^WebhookConfigError: --port: /);
    assert.throws(() => parseWebhookFlags(flags({ port: "70000" })), /--port: /);
    assert.throws(() => parseWebhookFlags(flags({ branch: ["  "] })), /--branch: ' {2}' is not a branch name/);
    assert.throws(() => parseWebhookFlags(flags({ repository: ["justname"] })), /--repository: 'justname' is not owner\/name/);
    assert.throws(() => parseWebhookFlags(flags({ maxBodyBytes: "10" })), /--max-body-bytes: /);
  });
});

describe("--git-repository and --git-remote", () => {
  it("are for the local trigger only; the remote cannot pass for an option or hold spaces", () => {
    const f = parseWebhookFlags(flags({ gitRepository: "/srv/app", gitRemote: "github" }));
    assert.equal(f.gitRepository, "/srv/app");
    assert.equal(f.gitRemote, "github");
    assert.equal(parseWebhookFlags(flags()).gitRemote, undefined, "unset: origin, with only a warning if it is missing");
    assert.throws(
      () => parseWebhookFlags(flags({ gitRemote: "--upload-pack=x" })),
      /--git-remote: '--upload-pack=x' must not start with '-'/,
    );
    assert.throws(
      () => parseWebhookFlags(flags({ gitRemote: "a b" })),
      /--git-remote: 'a b' must not contain spaces or control characters/,
    );
    assert.throws(
      () => parseWebhookFlags(flags({ trigger: "jenkins", gitRepository: "/srv/app", gitRemote: "origin" })),
      /--git-repository: is only for --trigger local; --git-remote: is only for --trigger local/,
    );
  });
});

describe("gitError", () => {
  it("keeps git's fatal/error lines (not the hints after them) on one line", () => {
    assert.equal(
      gitError(
        "fatal: 'origin' does not appear to be a git repository\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n",
      ),
      "fatal: 'origin' does not appear to be a git repository; fatal: Could not read from remote repository.",
    );
    assert.equal(gitError("warning: something\nnot quite\n"), "warning: something; not quite");
    assert.equal(gitError(""), "(git printed nothing)");
    assert.equal(gitError(`fatal: ${"x".repeat(1000)}`).length, 600);
  });
});

describe("repositoryOfRemoteUrl (the local trigger's one repository)", () => {
  it("reads owner/name from GitHub's https, scp-like and ssh URLs; nothing from other remotes", () => {
    for (const url of [
      "https://github.com/octo-org/octo-repo.git",
      "https://github.com/octo-org/octo-repo",
      "git@github.com:octo-org/octo-repo.git",
      "ssh://git@github.com/octo-org/octo-repo.git",
      "https://ghe.example.com/octo-org/octo-repo/",
    ]) {
      assert.equal(repositoryOfRemoteUrl(url), "octo-org/octo-repo", url);
    }
    for (const url of ["/srv/git/repo.git", "../upstream", "https://example.com/a/b/c.git", "file:///srv/repo"]) {
      assert.equal(repositoryOfRemoteUrl(url), undefined, url);
    }
  });
});
