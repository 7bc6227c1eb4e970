// The shared helpers in harness/lib: the process-group runner, polling until a deadline, /proc,
// and HTTP with axios + zod. Each is exercised against the real thing (processes, a local server).
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, it } from "vitest";
import { closeServer } from "../support/servers.ts";
import { z } from "zod";
import { errorMessage, formatIssues } from "../../harness/lib/errors.ts";
import { getJson, HttpError, post, probe, request } from "../../harness/lib/http.ts";
import { poll, PollTimeout, pollUntil } from "../../harness/lib/poll.ts";
import { readProcStat } from "../../harness/lib/proc.ts";
import { groupAlive, runProcess } from "../../harness/lib/process.ts";

function alive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== "Z" && stat.state !== "X";
}

describe("runProcess", () => {
  it("collects both streams, whole lines, the exit code; writes stdin", async () => {
    const lines: string[] = [];
    const r = await runProcess("sh", ["-c", "cat; echo err >&2; printf 'no newline'; exit 3"], {
      input: "from stdin\n",
      onLine: (line, stream) => lines.push(`${stream}:${line}`),
    });
    assert.equal(r.code, 3);
    assert.equal(r.stdout, "from stdin\nno newline");
    assert.equal(r.stderr, "err\n");
    assert.deepEqual(lines.sort(), ["stderr:err", "stdout:from stdin", "stdout:no newline"]);
    assert.equal(r.timedOut, false);
    assert.equal(r.strays, false);
  });

  it("a program that cannot start is a spawnError, not a rejection", async () => {
    const r = await runProcess("/nonexistent/program", []);
    assert.match(r.spawnError?.message ?? "", /ENOENT/);
    assert.equal(r.code, null);
  });

  it("at the time limit the whole group goes, grandchildren included", async () => {
    const r = await runProcess("sh", ["-c", "sleep 300 & echo $!; wait"], { timeoutMs: 300, killGraceMs: 200 });
    const grandchild = Number(r.stdout.trim());
    assert.ok(grandchild > 1, r.stdout);
    assert.equal(r.timedOut, true);
    assert.equal(r.stoppedBy, "SIGTERM");
    assert.equal(alive(grandchild), false, "the background sleep was stopped with its group");
  });

  it("what a finished process leaves in its group is stopped before the run ends", async () => {
    const r = await runProcess("sh", ["-c", "sleep 300 >/dev/null 2>&1 & echo $!"], { killGraceMs: 1000 });
    assert.equal(r.code, 0);
    assert.equal(r.strays, true);
    assert.equal(alive(Number(r.stdout.trim())), false);
  });

  it("an abort stops the group (SIGKILL after the grace period when SIGTERM is ignored)", async () => {
    const abort = new AbortController();
    let pid = 0;
    const running = runProcess("sh", ["-c", "trap '' TERM; echo started; sleep 300 & wait"], {
      signal: abort.signal,
      killGraceMs: 100,
      onSpawn: (p) => (pid = p),
      onLine: () => abort.abort(),
    });
    const r = await running;
    assert.equal(r.stoppedBy, "SIGKILL");
    assert.equal(r.timedOut, false);
    assert.equal(groupAlive(pid), false);
  });

  it("ownGroup: false leaves the process in the harness's group", async () => {
    const r = await runProcess("sh", ["-c", "cut -d' ' -f5 /proc/$$/stat"], { ownGroup: false });
    assert.equal(Number(r.stdout.trim()), readProcStat(process.pid)?.pgrp);
  });
});

describe("poll / pollUntil", () => {
  it("resolves with the first value the attempt returns", async () => {
    let n = 0;
    assert.equal(await poll(() => (++n === 3 ? "third" : undefined), { timeoutMs: 10_000, intervalMs: 1 }), "third");
  });

  it("poll gives undefined at the deadline; pollUntil rejects with what it was waiting for", async () => {
    assert.equal(await poll(() => undefined, { timeoutMs: 20, intervalMs: 5 }), undefined);
    await assert.rejects(
      pollUntil(() => undefined, { timeoutMs: 20, intervalMs: 5, what: "the moon" }),
      (err: unknown) => {
        assert.ok(err instanceof PollTimeout);
        assert.match(err.message, /the moon not met within 20 ms/);
        return true;
      },
    );
    await assert.rejects(
      pollUntil(() => undefined, { timeoutMs: 1, timeoutError: () => new Error("custom") }),
      /custom/,
    );
  });

  it("an error of the attempt ends the poll; an abort rejects it", async () => {
    await assert.rejects(
      poll(
        () => {
          throw new Error("broken");
        },
        { timeoutMs: 10_000 },
      ),
      /broken/,
    );
    const abort = new AbortController();
    const waiting = poll(() => undefined, { timeoutMs: 60_000, intervalMs: 10, signal: abort.signal });
    abort.abort(new Error("stop"));
    await assert.rejects(waiting, /stop/);
  });
});

describe("errors", () => {
  it("formatIssues names each field; errorMessage reads anything thrown", () => {
    const r = z.object({ a: z.object({ b: z.number() }) }).safeParse({ a: { b: "x" } });
    assert.equal(r.success, false);
    if (!r.success) {
      assert.match(formatIssues(r.error), /^a\.b: /);
      assert.match(formatIssues(r.error, "body"), /^body\.a\.b: /);
    }
    assert.equal(errorMessage(new Error("m")), "m");
    assert.equal(errorMessage("s"), "s");
  });
});

describe("http (axios + zod)", () => {
  let server: http.Server;
  let base = "";
  const posted: string[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        if (url.pathname === "/ok")
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ n: 1, q: url.searchParams.get("q") }));
        else if (url.pathname === "/shape") res.writeHead(200).end(JSON.stringify({ n: "one" }));
        else if (url.pathname === "/text") res.writeHead(200).end("<html>hello</html>");
        else if (url.pathname === "/busy") res.writeHead(503).end(JSON.stringify({ n: 2 }));
        else if (url.pathname === "/post") {
          posted.push(`${req.method} ${body}`);
          res.writeHead(req.method === "POST" ? 200 : 405).end();
        } else if (url.pathname === "/hang")
          return; // never answers
        else res.writeHead(404).end("not here");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => closeServer(server));
  const schema = z.object({ n: z.number() });

  it("getJson parses with the schema, with query parameters", async () => {
    assert.deepEqual(await getJson(`${base}/ok`, z.object({ n: z.number(), q: z.string() }), { params: { q: "a b" } }), { n: 1, q: "a b" });
  });

  it("says what was wrong: the field, the status, not JSON", async () => {
    await assert.rejects(getJson(`${base}/shape`, schema), (err: unknown) => {
      assert.ok(err instanceof HttpError);
      assert.match(err.message, /^GET http:\/\/127\.0\.0\.1:\d+\/shape: unexpected answer: n: /);
      return true;
    });
    await assert.rejects(getJson(`${base}/busy`, schema), /\/busy: HTTP 503: /);
    await assert.rejects(getJson(`${base}/text`, schema), /\/text: HTTP 200, not JSON: <html>hello<\/html>/);
    assert.deepEqual(await getJson(`${base}/busy`, schema, { acceptStatus: (s) => s === 503 }), { n: 2 });
  });

  it("no answer in time, or nobody listening, is an HttpError naming the URL", async () => {
    await assert.rejects(getJson(`${base}/hang`, schema, { timeoutMs: 100 }), /\/hang: no answer within 100 ms/);
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(request("GET", `http://127.0.0.1:${port}/`), /ECONNREFUSED/);
    assert.equal(await probe(`http://127.0.0.1:${port}/`), false);
  });

  it("request answers any status with the text; post rejects a non-2xx; probe is true only for 2xx", async () => {
    const res = await request("GET", `${base}/missing`);
    assert.equal(res.status, 404);
    assert.equal(res.text, "not here");
    await post(`${base}/post`, { body: "x=1" });
    assert.deepEqual(posted, ["POST x=1"]);
    assert.equal(await probe(`${base}/ok`), true);
    assert.equal(await probe(`${base}/busy`), false);
  });
});
