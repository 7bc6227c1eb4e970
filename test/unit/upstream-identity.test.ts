// Replica identity from Envoy's word: mapped to a container, and cross-checked with the service's own.
import assert from "node:assert/strict";
import { describe, it } from "vitest";
import { StackDirectory } from "../../harness/stack/directory.ts";
import { identifyReplica } from "../../harness/stack/upstream-identity.ts";

const dir = new StackDirectory([
  { container: "p-orders-1", hostname: "aaaaaaaaaaaa", ips: ["172.20.0.5"], service: "orders" },
  { container: "p-orders-2", hostname: "bbbbbbbbbbbb", ips: ["172.20.0.6"], service: "orders" },
  { container: "p-payments-1", hostname: "cccccccccccc", ips: ["172.20.0.7"], service: "payments" },
]);

describe("replica identity from Envoy's upstream address", () => {
  it("names the container behind the address", () => {
    assert.deepEqual(identifyReplica(dir, "orders", "172.20.0.6:80"), { ok: true, container: "p-orders-2", address: "172.20.0.6:80" });
    assert.equal(identifyReplica(dir, "orders", "172.20.0.5:80", "aaaaaaaaaaaa").ok, true);
  });

  it("says no: no header, an unknown address, another service's replica, a hostname that disagrees", () => {
    const no = (r: ReturnType<typeof identifyReplica>) => (r.ok ? assert.fail("said yes") : r.problem);
    assert.match(no(identifyReplica(dir, "orders", undefined)), /Envoy named no upstream/);
    assert.match(no(identifyReplica(dir, "orders", "172.20.0.99:80")), /no container on the project's networks has this address/);
    assert.match(no(identifyReplica(dir, "orders", "172.20.0.7:8000")), /container p-payments-1 .*which is service payments, not orders/);
    assert.match(
      no(identifyReplica(dir, "orders", "172.20.0.5:80", "bbbbbbbbbbbb")),
      /hostname 'bbbbbbbbbbbb', but Envoy sent it to container p-orders-1/,
    );
  });
});
