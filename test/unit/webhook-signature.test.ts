import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "vitest";
import { SignatureVerifier, signBody } from "../../harness/webhook/signature.ts";

const body = Buffer.from(JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 1 }));

describe("signBody", () => {
  it("is GitHub's format: sha256= and the hex HMAC-SHA256 of the raw body", () => {
    // GitHub's documented example: secret "It's a Secret to Everybody", payload "Hello, World!".
    assert.equal(
      signBody("It's a Secret to Everybody", "Hello, World!"),
      "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    );
  });
});

describe("SignatureVerifier (octokit verify, one instance per secret)", () => {
  const verifier = new SignatureVerifier(["current-secret"]);

  it("accepts the right signature", async () => {
    assert.deepEqual(await verifier.verify(body, signBody("current-secret", body)), { ok: true });
  });

  it("rejects a signature made with another secret", async () => {
    const check = await verifier.verify(body, signBody("other", body));
    assert.equal(check.ok, false);
    assert.match(check.ok ? "" : check.reason, /does not match/);
  });

  it("rejects a signature of a different body", async () => {
    const check = await verifier.verify(Buffer.concat([body, Buffer.from(" ")]), signBody("current-secret", body));
    assert.equal(check.ok, false);
  });

  it("names a missing header, and the SHA-1-only case", async () => {
    const missing = await verifier.verify(body, undefined);
    assert.deepEqual(missing, { ok: false, reason: "missing X-Hub-Signature-256 header" });
    const sha1 = `sha1=${createHmac("sha1", "current-secret").update(body).digest("hex")}`;
    const legacy = await verifier.verify(body, undefined, sha1);
    assert.match(legacy.ok ? "" : legacy.reason, /only X-Hub-Signature \(SHA-1\)/);
  });

  it("rejects malformed values before any HMAC", async () => {
    for (const bad of ["", "sha256=", "sha1=abc", `SHA256=${"a".repeat(64)}`, `sha256=${"g".repeat(64)}`, `sha256=${"A".repeat(64)}`]) {
      const check = await verifier.verify(body, bad);
      assert.equal(check.ok, false, bad);
      assert.match(check.ok ? "" : check.reason, /not of the form/, bad);
    }
    const twice = await verifier.verify(body, [signBody("current-secret", body), signBody("current-secret", body)]);
    assert.equal(twice.ok, false);
  });

  it("accepts every configured secret (rotation), in any position", async () => {
    const rotating = new SignatureVerifier(["new-secret", "old-secret"]);
    assert.deepEqual(await rotating.verify(body, signBody("new-secret", body)), { ok: true });
    assert.deepEqual(await rotating.verify(body, signBody("old-secret", body)), { ok: true });
    const third = await rotating.verify(body, signBody("retired-secret", body));
    assert.equal(third.ok, false);
    assert.match(third.ok ? "" : third.reason, /secrets$/);
  });

  it("verifies the raw bytes even when they are not valid UTF-8, keep a BOM, or are empty", async () => {
    for (const raw of [Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]), Buffer.alloc(0)]) {
      assert.deepEqual(await verifier.verify(raw, signBody("current-secret", raw)), { ok: true }, raw.toString("hex"));
      // and the signature of the same bytes with another secret still fails
      assert.equal((await verifier.verify(raw, signBody("other", raw))).ok, false);
    }
  });

  it("refuses to be built without a secret", () => {
    assert.throws(() => new SignatureVerifier([]), /at least one/);
    assert.throws(() => new SignatureVerifier([""]), /non-empty/);
  });
});
