import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { classify, decodePayload, knownEventNames, parseDeliveryHeaders } from "../../harness/webhook/events.ts";
import { fixture, pushPayload, sha } from "../fixtures/webhook/helpers.ts";

const anyBranch = { branches: [], repositories: [] };

describe("parseDeliveryHeaders", () => {
  it("takes a known event and a delivery id", () => {
    const parsed = parseDeliveryHeaders({ "x-github-event": "push", "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958" });
    assert.deepEqual(parsed, { ok: true, value: { event: "push", id: "72d3162e-cc78-11e3-81ab-4c9367dc0958" } });
  });

  it("knows GitHub's event names from @octokit/webhooks", () => {
    for (const name of ["push", "ping", "pull_request", "issues", "workflow_run"]) assert.ok(knownEventNames.has(name), name);
    assert.ok(!knownEventNames.has("pull_request.opened"), "actions are not event names");
  });

  it("answers 400 naming a missing or malformed header (an event name it does not know is not malformed)", () => {
    const missing = parseDeliveryHeaders({ "x-github-delivery": "abc" });
    assert.deepEqual(missing, { ok: false, status: 400, reason: "missing X-GitHub-Event header" });
    const malformed = parseDeliveryHeaders({ "x-github-event": "Push Event", "x-github-delivery": "abc" });
    assert.equal(malformed.ok, false);
    assert.match(malformed.ok ? "" : malformed.reason, /X-GitHub-Event is not an event name/);
    assert.equal(parseDeliveryHeaders({ "x-github-event": "pushh", "x-github-delivery": "abc" }).ok, true);
    const noId = parseDeliveryHeaders({ "x-github-event": "push" });
    assert.deepEqual(noId, { ok: false, status: 400, reason: "missing X-GitHub-Delivery header" });
    const badId = parseDeliveryHeaders({ "x-github-event": "push", "x-github-delivery": "../../etc/passwd" });
    assert.match(badId.ok ? "" : badId.reason, /X-GitHub-Delivery has characters/);
  });
});

describe("decodePayload", () => {
  it("parses JSON bodies", () => {
    assert.deepEqual(decodePayload(Buffer.from('{"a":1}'), "application/json"), { ok: true, value: { a: 1 } });
    assert.deepEqual(decodePayload(Buffer.from('{"a":1}'), "application/json; charset=utf-8"), { ok: true, value: { a: 1 } });
  });

  it("parses GitHub's form-encoded content type (payload=<json>)", () => {
    const body = Buffer.from(new URLSearchParams({ payload: '{"zen":"x"}' }).toString());
    assert.deepEqual(decodePayload(body, "application/x-www-form-urlencoded"), { ok: true, value: { zen: "x" } });
    const none = decodePayload(Buffer.from("a=1"), "application/x-www-form-urlencoded");
    assert.deepEqual(none, { ok: false, status: 400, reason: "form-encoded body has no 'payload' field" });
  });

  it("answers 400 to malformed or empty JSON with the parser's message", () => {
    const bad = decodePayload(Buffer.from('{"ref": '), "application/json");
    assert.equal(bad.ok, false);
    assert.equal(bad.ok ? 0 : bad.status, 400);
    assert.match(bad.ok ? "" : bad.reason, /^malformed JSON: /);
    assert.deepEqual(decodePayload(Buffer.alloc(0), "application/json"), {
      ok: false,
      status: 400,
      reason: "malformed JSON: the body is empty",
    });
  });

  it("answers 415 to other content types", () => {
    const res = decodePayload(Buffer.from("{}"), "text/plain");
    assert.equal(res.ok ? 0 : res.status, 415);
    assert.equal((decodePayload(Buffer.from("{}"), undefined) as { status: number }).status, 415);
  });
});

describe("classify", () => {
  it("ping: records the repository", () => {
    assert.deepEqual(classify("ping", fixture("ping"), anyBranch), {
      ok: true,
      value: { kind: "ping", repository: "Octocoders/Hello-World", ref: null, branch: null, commit: null },
    });
  });

  it("push to the repository's default branch runs (from repository.default_branch)", () => {
    const res = classify("push", fixture("push"), anyBranch);
    assert.deepEqual(res, {
      ok: true,
      value: {
        kind: "push",
        repository: "Codertocat/Hello-World",
        ref: "refs/heads/master",
        branch: "master",
        commit: "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
      },
    });
  });

  it("push to another branch is ignored with the reason", () => {
    const res = classify("push", pushPayload({ branch: "feature/x" }), anyBranch);
    assert.equal(res.ok && res.value.kind, "ignored");
    assert.equal(res.ok && res.value.kind === "ignored" ? res.value.reason : "", "branch feature/x is not the default branch (master)");
  });

  it("--branch replaces the default branch", () => {
    const filters = { branches: ["main", "release"], repositories: [] };
    assert.equal((classify("push", pushPayload({ branch: "release" }), filters) as { value: { kind: string } }).value.kind, "push");
    const master = classify("push", pushPayload({ branch: "master" }), filters);
    assert.equal(master.ok && master.value.kind, "ignored");
    assert.match(master.ok && master.value.kind === "ignored" ? master.value.reason : "", /not a configured branch \(main, release\)/);
  });

  it("branch deletions are ignored (deleted: true, or after = 000…)", () => {
    for (const payload of [pushPayload({ deleted: true, after: "0".repeat(40) }), pushPayload({ after: "0".repeat(40) })]) {
      const res = classify("push", payload, anyBranch);
      assert.equal(res.ok && res.value.kind, "ignored");
      assert.equal(res.ok && res.value.kind === "ignored" ? res.value.reason : "", "branch master was deleted");
    }
  });

  it("tags are ignored (the real tag-deletion payload)", () => {
    const res = classify("push", fixture("push-tag-deleted"), anyBranch);
    assert.equal(res.ok && res.value.kind === "ignored" ? res.value.reason : "", "ref refs/tags/simple-tag is not a branch");
  });

  it("other events are ignored, naming the event", () => {
    const res = classify("issues", { action: "opened", repository: { full_name: "o/r" } }, anyBranch);
    assert.deepEqual(res, {
      ok: true,
      value: {
        kind: "ignored",
        reason: "event 'issues' does not trigger a build (only push does)",
        repository: "o/r",
        ref: null,
        branch: null,
        commit: null,
      },
    });
  });

  it("--repository restricts pushes to the listed repositories (any case)", () => {
    const only = { branches: [], repositories: ["codertocat/hello-world"] };
    assert.equal((classify("push", fixture("push"), only) as { value: { kind: string } }).value.kind, "push");
    const other = { branches: [], repositories: ["octo/other"] };
    const res = classify("push", fixture("push"), other);
    assert.match(res.ok && res.value.kind === "ignored" ? res.value.reason : "", /Codertocat\/Hello-World is not one of octo\/other/);
  });

  it("a push payload of the wrong shape is a 400 naming the fields", () => {
    const payload = pushPayload();
    delete payload.after;
    (payload.repository as Record<string, unknown>).full_name = 42;
    const res = classify("push", payload, anyBranch);
    assert.equal(res.ok, false);
    assert.equal(res.ok ? 0 : res.status, 400);
    const reason = res.ok ? "" : res.reason;
    assert.match(reason, /^push payload: /);
    assert.match(reason, /after: /);
    assert.match(reason, /repository\.full_name: /);
    const shortSha = classify("push", pushPayload({ after: "abc123" }), anyBranch);
    assert.match(shortSha.ok ? "" : shortSha.reason, /after: must be a 40- or 64-digit/);
    assert.equal(classify("ping", { zen: 1 }, anyBranch).ok, false);
  });

  it("accepts SHA-256 repositories' 64-digit commit ids", () => {
    const long = `${sha(7)}${"ab".repeat(12)}`;
    const res = classify("push", pushPayload({ after: long }), anyBranch);
    assert.equal(res.ok && res.value.commit, long);
  });
});
