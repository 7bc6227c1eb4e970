import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "vitest";
import { request } from "../../harness/lib/http.ts";
import { jenkinsFromEnv } from "../../harness/webhook/config.ts";
import { JenkinsTrigger } from "../../harness/webhook/triggers/jenkins.ts";
import type { RunRequest } from "../../harness/webhook/triggers/types.ts";
import { type FakeJenkins, sha, startFakeJenkins } from "../fixtures/webhook/helpers.ts";

const req: RunRequest = {
  deliveryId: "d-1",
  repository: "o/r",
  branch: "main",
  commit: sha(5),
  run: 7,
  buildTag: `envoy-pipeline-webhook-${sha(5).slice(0, 7)}-7`,
};

const trigger = (jenkins: FakeJenkins, job = "folder/app", token = jenkins.token) =>
  new JenkinsTrigger({
    settings: jenkinsFromEnv({ JENKINS_URL: jenkins.url, JENKINS_USER: jenkins.user, JENKINS_API_TOKEN: token }, job),
    timeoutMs: 5_000,
  });

describe("the fake Jenkins follows Jenkins' contract (so the trigger tests mean something)", () => {
  let jenkins: FakeJenkins;
  beforeAll(async () => {
    jenkins = await startFakeJenkins();
  });
  afterAll(() => jenkins.close());

  it("401 without credentials, 403 without the crumb, 403 with a crumb but no session cookie", async () => {
    const build = `${jenkins.url}job/folder/job/app/buildWithParameters`;
    const auth = `Basic ${Buffer.from(`${jenkins.user}:${jenkins.token}`).toString("base64")}`;
    const noAuth = await request("POST", build, { body: "COMMIT=x" });
    assert.equal(noAuth.status, 401);
    const noCrumb = await request("POST", build, { headers: { authorization: auth }, body: "COMMIT=x" });
    assert.equal(noCrumb.status, 403);
    const crumbRes = await request("GET", `${jenkins.url}crumbIssuer/api/json`, { headers: { authorization: auth } });
    const { crumb } = JSON.parse(crumbRes.text) as { crumb: string };
    const noCookie = await request("POST", build, { headers: { authorization: auth, "jenkins-crumb": crumb }, body: "COMMIT=x" });
    assert.equal(noCookie.status, 403);
    assert.equal(jenkins.builds.length, 0);
  });
});

describe("JenkinsTrigger", () => {
  let jenkins: FakeJenkins;
  beforeAll(async () => {
    jenkins = await startFakeJenkins();
  });
  afterAll(() => jenkins.close());

  it("gets a crumb, then POSTs COMMIT and BRANCH with auth, crumb and session cookie; records the queue Location", async () => {
    jenkins.seen.length = 0;
    const result = await trigger(jenkins).run(req, new AbortController().signal);
    assert.deepEqual(result, { outcome: "triggered", reason: null, queueLocation: `${jenkins.url}queue/item/41/` });
    assert.deepEqual(jenkins.builds.at(-1), { job: "folder/app", params: { COMMIT: sha(5), BRANCH: "main" }, queueItem: 41 });
    const [crumbCall, post] = jenkins.seen;
    assert.equal(crumbCall?.method, "GET");
    assert.equal(crumbCall?.path, "/jenkins/crumbIssuer/api/json");
    assert.equal(crumbCall?.status, 200);
    assert.equal(post?.method, "POST");
    assert.equal(post?.path, "/jenkins/job/folder/job/app/buildWithParameters");
    assert.equal(post?.status, 201);
    assert.equal(post?.headers.authorization, `Basic ${Buffer.from(`${jenkins.user}:${jenkins.token}`).toString("base64")}`);
    assert.equal(post?.headers["content-type"], "application/x-www-form-urlencoded");
    assert.match(String(post?.headers["jenkins-crumb"]), /^[0-9a-f]{64}$/);
    assert.match(String(post?.headers.cookie), /^JSESSIONID\.1a2b3c4d=[0-9a-f]{24}$/);
    assert.equal(post?.body, `COMMIT=${sha(5)}&BRANCH=main`);
  });

  it("a job at the top level", async () => {
    const result = await trigger(jenkins, "envoy-pipeline").run(req, new AbortController().signal);
    assert.equal(result.outcome, "triggered");
    assert.equal(jenkins.seen.at(-1)?.path, "/jenkins/job/envoy-pipeline/buildWithParameters");
  });

  it("Jenkins answering 500 is a failed run with the status and the page's text", async () => {
    jenkins.failWith = 500;
    try {
      const result = await trigger(jenkins).run(req, new AbortController().signal);
      assert.equal(result.outcome, "failed");
      assert.equal(
        result.reason,
        `Jenkins answered 500 to POST ${jenkins.url}job/folder/job/app/buildWithParameters: ` +
          "Error HTTP ERROR 500 java.lang.NullPointerException",
      );
    } finally {
      jenkins.failWith = undefined;
    }
  });

  it("a wrong API token fails at the crumb issuer, naming the user", async () => {
    const result = await trigger(jenkins, "folder/app", "wrong").run(req, new AbortController().signal);
    assert.equal(result.outcome, "failed");
    assert.match(
      result.reason ?? "",
      /^Jenkins refused JENKINS_USER=ci-bot with JENKINS_API_TOKEN \(401 from GET .*crumbIssuer\/api\/json\)/,
    );
  });

  it("an unknown job is a failed run with 404", async () => {
    const result = await trigger(jenkins, "nope").run(req, new AbortController().signal);
    assert.match(result.reason ?? "", /^Jenkins answered 404 to POST .*\/job\/nope\/buildWithParameters/);
  });

  it("a crumb issuer answer without crumbRequestField is reported with the field", async () => {
    jenkins.crumbBody = JSON.stringify({ crumb: "abc" });
    try {
      const result = await trigger(jenkins).run(req, new AbortController().signal);
      assert.equal(result.outcome, "failed");
      assert.match(result.reason ?? "", /crumbIssuer\/api\/json answered crumbRequestField: /);
      jenkins.crumbBody = "<html>login</html>";
      const html = await trigger(jenkins).run(req, new AbortController().signal);
      assert.match(html.reason ?? "", /did not answer JSON: login/);
    } finally {
      jenkins.crumbBody = undefined;
    }
  });

  it("with CSRF protection off (crumb issuer 404) it posts without a crumb", async () => {
    const open = await startFakeJenkins({ csrf: false, contextPath: "/" });
    try {
      const result = await trigger(open).run(req, new AbortController().signal);
      assert.equal(result.outcome, "triggered");
      assert.equal(open.seen.at(-1)?.headers["jenkins-crumb"], undefined);
    } finally {
      await open.close();
    }
  });

  it("an unreachable Jenkins is a failed run naming the URL", async () => {
    const gone = await startFakeJenkins();
    const t = trigger(gone);
    await gone.close();
    const result = await t.run(req, new AbortController().signal);
    assert.equal(result.outcome, "failed");
    assert.match(result.reason ?? "", new RegExp(`^cannot reach Jenkins at ${gone.url.replace(/[.]/g, "\\.")}`));
  });

  it("describe() (dry run) shows URL and parameters but never the token", () => {
    const plan = trigger(jenkins).describe(req);
    assert.deepEqual(plan, {
      trigger: "jenkins",
      url: `${jenkins.url}job/folder/job/app/buildWithParameters`,
      user: "ci-bot",
      params: { COMMIT: sha(5), BRANCH: "main" },
    });
    assert.ok(!JSON.stringify(plan).includes(jenkins.token));
  });
});
