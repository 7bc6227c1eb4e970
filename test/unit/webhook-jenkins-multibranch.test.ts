// The receiver's Jenkins trigger for multibranch projects (issue 10, defect 9): --jenkins-job with
// a {branch} segment queues the pushed branch's own job, whose refspec has the pushed commit.
import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "vitest";
import { jenkinsFromEnv } from "../../harness/webhook/config.ts";
import { JenkinsTrigger, jobPath, multibranchJobName } from "../../harness/webhook/triggers/jenkins.ts";
import type { RunRequest } from "../../harness/webhook/triggers/types.ts";
import { type FakeJenkins, sha, startFakeJenkins } from "../fixtures/webhook/helpers.ts";

const push = (branch: string): RunRequest => ({
  deliveryId: `d-${branch}`,
  repository: "o/r",
  branch,
  commit: sha(9),
  run: 3,
  buildTag: `envoy-pipeline-webhook-${sha(9).slice(0, 7)}-3`,
});

describe("multibranch job names", () => {
  it("encode / and % as a multibranch project names its branch jobs", () => {
    assert.equal(multibranchJobName("main"), "main");
    assert.equal(multibranchJobName("feature/x"), "feature%2Fx");
    assert.equal(multibranchJobName("dependabot/npm_and_yarn/undici-7.30.2"), "dependabot%2Fnpm_and_yarn%2Fundici-7.30.2");
    assert.equal(multibranchJobName("100%"), "100%25");
  });

  it("refuse branch names with other characters Jenkins encodes, and the empty name", () => {
    for (const branch of ["a:b", "a*b", "a?b", "a#b", "a|b", 'a"b', "a<b", "a\\b", ""])
      assert.equal(multibranchJobName(branch), undefined, branch);
  });

  it("put the branch job into the URL path, encoded once more", () => {
    assert.equal(jobPath("team/envoy-pipeline/{branch}", "feature/x"), "job/team/job/envoy-pipeline/job/feature%252Fx/");
    assert.equal(jobPath("team/app", "feature/x"), "job/team/job/app/", "without {branch} the branch does not matter");
    assert.throws(() => jobPath("team/app/{branch}", "a:b"), /branch 'a:b' has no multibranch job name/);
  });

  it("--jenkins-job takes {branch} only as a whole segment", () => {
    const env = { JENKINS_URL: "https://ci.example.com/", JENKINS_USER: "bot", JENKINS_API_TOKEN: "t" };
    assert.equal(jenkinsFromEnv(env, "team/app/{branch}").job, "team/app/{branch}");
    assert.throws(() => jenkinsFromEnv(env, "team/app-{branch}"), /brace outside a whole \{branch\} segment/);
    assert.throws(() => jenkinsFromEnv(env, "team/{BRANCH}"), /brace outside/);
  });
});

describe("JenkinsTrigger with a {branch} job", () => {
  let jenkins: FakeJenkins;
  beforeAll(async () => {
    jenkins = await startFakeJenkins({ jobs: ["team/app/main", "team/app/feature%2Fx"] });
  });
  afterAll(() => jenkins.close());

  const trigger = (): JenkinsTrigger =>
    new JenkinsTrigger({
      settings: jenkinsFromEnv(
        { JENKINS_URL: jenkins.url, JENKINS_USER: jenkins.user, JENKINS_API_TOKEN: jenkins.token },
        "team/app/{branch}",
      ),
      timeoutMs: 5_000,
    });

  it("queues each push in its branch's job", async () => {
    for (const branch of ["main", "feature/x"]) {
      const result = await trigger().run(push(branch), new AbortController().signal);
      assert.equal(result.outcome, "triggered", result.reason ?? "");
    }
    assert.deepEqual(
      jenkins.builds.map((b) => [b.job, b.params.BRANCH]),
      [
        ["team/app/main", "main"],
        ["team/app/feature%2Fx", "feature/x"],
      ],
    );
  });

  it("a branch without a job is a failed run (404), not a build of another branch", async () => {
    const before = jenkins.builds.length;
    const result = await trigger().run(push("release/1.0"), new AbortController().signal);
    assert.equal(result.outcome, "failed");
    assert.match(result.reason ?? "", /404 to POST .*job\/team\/job\/app\/job\/release%252F1\.0\/buildWithParameters/);
    assert.equal(jenkins.builds.length, before);
  });

  it("a branch name it cannot address is a failed run naming the branch; describe() says so too", async () => {
    const result = await trigger().run(push("a:b"), new AbortController().signal);
    assert.deepEqual(result, {
      outcome: "failed",
      reason: "branch 'a:b' has no multibranch job name that --jenkins-job team/app/{branch} can address",
    });
    assert.match(String(trigger().describe(push("a:b")).url), /^\(none: branch 'a:b'/);
    assert.equal(trigger().describe(push("feature/x")).url, `${jenkins.url}job/team/job/app/job/feature%252Fx/buildWithParameters`);
  });
});
