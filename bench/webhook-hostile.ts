// The webhook receiver's memory under hostile traffic (issue 22, finding 1). Starts the receiver
// (`envoy-pipeline webhook`, jenkins trigger in dry run, nothing reachable beyond loopback) as a
// child process and samples its RSS from /proc/<pid>/status every 50 ms through three phases:
//   idle        the receiver listening, nothing sent (yardstick);
//   valid       1,000 validly signed small pushes, 50 at a time (yardstick);
//   hostile     1,000 unauthenticated connections at once, held for --hold seconds:
//               40 % announce 25 MB without a signature and trickle it, 30 % carry a malformed
//               signature header, 30 % a well-formed wrong signature and trickle a 1 MiB body.
// Then prints peak and after (2 s after the hostile connections closed) beside the yardsticks, and
// checks that the receiver still answers. Goal: hostile peak under idle + 100 MiB.
//
//   npm run bench:webhook [-- --hold 10 --max-body-bytes 26214400 --cli <other checkout>/harness/cli.ts]
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { type Socket, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { signBody } from "../harness/webhook/signature.ts";

const OWN_CLI = fileURLToPath(new URL("../harness/cli.ts", import.meta.url));
const { values } = parseArgs({
  options: {
    hold: { type: "string", default: "10" },
    "max-body-bytes": { type: "string" },
    connections: { type: "string", default: "1000" },
    // Another checkout's harness/cli.ts, to measure a receiver from before a change.
    cli: { type: "string", default: OWN_CLI },
  },
});
const holdMs = Number(values.hold) * 1000;
const connections = Number(values.connections);
const SECRET = "bench-secret";
const MiB = 1024 * 1024;

function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** Samples the RSS every 50 ms while `work` runs; returns the peak. */
async function peakDuring(pid: number, work: () => Promise<void>): Promise<number> {
  let peak = rssOf(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssOf(pid));
  }, 50);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, rssOf(pid));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function post(port: number, headers: Record<string, string>, body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let text = "";
    s.on("error", () => resolve(0));
    s.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m && text.includes("\r\n\r\n")) {
        s.destroy();
        resolve(Number(m[1]));
      }
    });
    s.on("close", () => resolve(0));
    s.write(
      `POST /github-webhook/ HTTP/1.1\r\nhost: x\r\n${Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("")}\r\n`,
    );
    s.write(body);
  });
}

function push(n: number): { headers: Record<string, string>; body: Buffer } {
  const sha = (n + 1).toString(16).padStart(40, "0");
  const body = Buffer.from(
    JSON.stringify({
      ref: "refs/heads/main",
      before: `${"0".repeat(39)}1`,
      after: sha,
      repository: { full_name: "bench/repo", default_branch: "main" },
    }),
  );
  return {
    body,
    headers: {
      "x-github-event": "push",
      "x-github-delivery": randomUUID(),
      "content-type": "application/json",
      "content-length": String(body.length),
      "x-hub-signature-256": signBody(SECRET, body),
    },
  };
}

/** One hostile connection; trickles 16 KiB every 100 ms until closed. */
function hostile(port: number, kind: number, sockets: Socket[]): void {
  const s = connect(port, "127.0.0.1");
  sockets.push(s);
  s.on("error", () => undefined);
  const base = { "x-github-event": "push", "x-github-delivery": randomUUID(), "content-type": "application/json" };
  const headers: Record<string, string> =
    kind < 4
      ? { ...base, "content-length": String(25 * 1000 * 1000) }
      : kind < 7
        ? { ...base, "content-length": String(MiB), "x-hub-signature-256": "sha256=not-hex" }
        : { ...base, "content-length": String(MiB), "x-hub-signature-256": `sha256=${"ab".repeat(32)}` };
  s.on("connect", () => {
    s.write(
      `POST /github-webhook/ HTTP/1.1\r\nhost: x\r\n${Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("")}\r\n`,
    );
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    const timer = setInterval(() => (s.writable ? s.write(chunk) : clearInterval(timer)), 100);
    s.on("close", () => clearInterval(timer));
  });
}

const dir = mkdtempSync(join(tmpdir(), "bench-webhook-"));
const extra = values["max-body-bytes"] ? ["--max-body-bytes", values["max-body-bytes"]] : [];
const child = spawn(
  process.execPath,
  [
    "--import",
    "tsx",
    values.cli,
    "webhook",
    "--port",
    "0",
    "--trigger",
    "jenkins",
    "--jenkins-job",
    "bench",
    "--dry-run",
    "--state-dir",
    dir,
    ...extra,
  ],
  {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GITHUB_WEBHOOK_SECRET: SECRET,
      JENKINS_URL: "http://127.0.0.1:9/",
      JENKINS_USER: "bench",
      JENKINS_API_TOKEN: "bench",
    },
    stdio: ["ignore", "ignore", "pipe"],
  },
);
try {
  const port = await new Promise<number>((resolve, reject) => {
    let err = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      err += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(err);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`the receiver exited (${code}): ${err}`)));
  });
  const pid = child.pid as number;
  await sleep(1000);
  const idle = await peakDuring(pid, () => sleep(1000));

  let ok = 0;
  const valid = await peakDuring(pid, async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < 1000) {
          const p = push(next++);
          if ((await post(port, p.headers, p.body)) === 202) ok += 1;
        }
      }),
    );
  });
  await sleep(2000);
  const afterValid = rssOf(pid);

  const sockets: Socket[] = [];
  const hostilePeak = await peakDuring(pid, async () => {
    for (let i = 0; i < connections; i++) hostile(port, i % 10, sockets);
    await sleep(holdMs);
    for (const s of sockets) s.destroy();
    await sleep(500);
  });
  await sleep(2000);
  const after = rssOf(pid);
  const alive = await post(port, push(1_000_001).headers, push(1_000_001).body);

  const mib = (b: number) => `${(b / MiB).toFixed(1)} MiB`;
  console.log(
    `receiver pid ${pid}, body limit ${values["max-body-bytes"] ?? "default (1 MiB)"}, ${connections} hostile connections held ${holdMs / 1000} s`,
  );
  console.log(`  idle (yardstick)                         RSS ${mib(idle)}`);
  console.log(
    `  1,000 valid small pushes (yardstick)     peak ${mib(valid)} (+${mib(valid - idle)}), after ${mib(afterValid)}; ${ok} answered 202`,
  );
  console.log(
    `  ${connections} unauthenticated connections       peak ${mib(hostilePeak)} (+${mib(hostilePeak - idle)}), after ${mib(after)}`,
  );
  console.log(`  receiver afterwards: ${alive === 202 ? "answers a valid push (202)" : `DOWN or wrong (${alive})`}`);
  const pass = hostilePeak - idle < 100 * MiB && alive === 202;
  console.log(`goal (hostile peak < idle + 100 MiB, receiver up): ${pass ? "met" : "NOT met"}`);
  process.exitCode = pass ? 0 : 1;
} finally {
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
}
