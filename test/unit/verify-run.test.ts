// runVerify's inputs: validated (with the bad field named) before any request is sent, and the
// default sample size.
import { strict as assert } from "node:assert";
import { describe, it } from "vitest";
import { plannedRequests, runVerify, serviceIdFromPath } from "../../harness/verify/run.ts";
import { VerifyInputError } from "../../harness/verify/schema.ts";

describe("runVerify inputs", () => {
  it("derives the serviceid from /service/<id>", () => {
    assert.equal(serviceIdFromPath("/service/1"), "1");
    assert.equal(serviceIdFromPath("/service/abc?x=1"), "abc");
    assert.equal(serviceIdFromPath("/other"), undefined);
  });

  it("plans the chi-square sample size, at least 100 requests", () => {
    const three = plannedRequests([1 / 3, 1 / 3, 1 / 3], 1e-6, 0.99);
    assert.equal(three.n, 704);
    assert.match(three.by, /99 % power at alpha 0.000001 against a replica at half its weight/);
    assert.deepEqual(plannedRequests([1], 1e-6, 0.99), { n: 100, by: "minimum of 100 requests" });
  });

  it("rejects bad options, naming the field, before touching the network", async () => {
    await assert.rejects(
      runVerify({
        listenerUrl: "not a url",
        adminUrl: "http://127.0.0.1:9",
        services: [
          { service: "service1", path: "service/1", cluster: "service1", replicas: [{ name: "x", hostname: "", ip: "10.0.0.1" }] },
        ],
      }),
      (err: unknown) => {
        assert.ok(err instanceof VerifyInputError);
        assert.match(err.message, /listenerUrl: /);
        assert.match(err.message, /services\.0\.path: /);
        assert.match(err.message, /services\.0\.replicas\.0\.hostname: /);
        return true;
      },
    );
    await assert.rejects(runVerify({ listenerUrl: "http://127.0.0.1:9", adminUrl: "http://127.0.0.1:9", services: [] }), /services: /);
  });
});
