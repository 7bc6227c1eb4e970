// The load generator against a listener that accepts connections and never answers (a frozen
// Envoy): it gives up after a few requests in a row get no answer, instead of waiting out a timeout
// per planned request, and says how many it did not send.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, it } from "vitest";
import { runLoad } from "../../harness/verify/load.ts";

describe("runLoad against a silent listener", () => {
  let server: Server;
  let url = "";
  beforeAll(async () => {
    // Reads each request and never answers.
    server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("stops after `giveUpAfter` requests in a row got no answer, and counts the rest as abandoned", async () => {
    const r = await runLoad({
      listenerUrl: url,
      path: "/service/1",
      requests: 200,
      concurrency: 4,
      connections: 4,
      timeoutMs: 100,
      giveUpAfter: 8,
    });
    assert.ok(r.tally.sent >= 8 && r.tally.sent < 200, `sent ${r.tally.sent}`);
    assert.equal(r.tally.sent + r.tally.abandoned, 200);
    assert.equal(r.tally.ok, 0);
    assert.ok(r.tally.consecutiveNoAnswer >= 8);
    assert.match([...r.tally.failures.values()][0]?.detail ?? "", /HEADERS_TIMEOUT/);
  });

  it("with one request in flight it gives up too", async () => {
    const r = await runLoad({ listenerUrl: url, path: "/service/1", requests: 50, concurrency: 1, connections: 1, timeoutMs: 100 });
    assert.equal(r.tally.sent, 8, "the default: twice the requests in flight, at least 8");
    assert.equal(r.tally.abandoned, 42);
  });
});
