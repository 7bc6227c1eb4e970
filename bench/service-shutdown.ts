// How fast a service replica stops on SIGTERM (the figures the shutdown tests no longer assert):
// idle, with a request in flight, and with a Zipkin collector that never answers. Prints the
// milliseconds to the exit (from the signal; with a request in flight, from its answer), median and max.
//
//   node --import tsx bench/service-shutdown.ts [--rounds 5]
import { spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const MAIN = fileURLToPath(new URL("../services/src/main.ts", import.meta.url));
const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" } } });
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds <= 0) throw new Error("--rounds must be a positive integer");

interface Replica {
  port: number;
  /** performance.now() at exit, and the exit code. */
  exited: Promise<{ at: number; code: number | null }>;
  kill(signal: NodeJS.Signals): number;
  waitFor(msg: string): Promise<void>;
}

async function startReplica(env: Record<string, string>): Promise<Replica> {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
    env: { ...process.env, SERVICE_ID: "1", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const seen: { msg: string; port?: number }[] = [];
  const waiters = new Set<() => void>();
  let partial = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) seen.push(JSON.parse(line) as { msg: string; port?: number });
    for (const w of waiters) w();
  });
  const exited = new Promise<{ at: number; code: number | null }>((resolve) =>
    child.on("exit", (code) => resolve({ at: performance.now(), code })),
  );
  const waitFor = (msg: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (seen.some((l) => l.msg === msg)) {
          waiters.delete(check);
          resolve();
        } else if (child.exitCode !== null) reject(new Error(`the replica exited before logging "${msg}"`));
      };
      waiters.add(check);
      check();
    });
  await waitFor("listening");
  const port = Number(seen.find((l) => l.msg === "listening")?.port);
  return {
    port,
    exited,
    waitFor,
    kill(signal) {
      child.kill(signal);
      return performance.now();
    },
  };
}

function get(port: number, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: "/service/1", agent: false, headers }, (res) =>
        res.resume().on("end", () => resolve(res.statusCode ?? 0)),
      )
      .on("error", reject);
  });
}

async function idle(): Promise<number> {
  const r = await startReplica({});
  await get(r.port);
  const at = r.kill("SIGTERM");
  return (await r.exited).at - at;
}

/** From the in-flight request's answer to the exit (the drain itself lasts as long as the request). */
async function inFlight(): Promise<number> {
  const r = await startReplica({ RESPONSE_DELAY_MS: "300", LOG_LEVEL: "debug" });
  const answered = get(r.port).then(() => performance.now());
  await r.waitFor("request received");
  r.kill("SIGTERM");
  const at = await answered;
  return (await r.exited).at - at;
}

async function hangingCollector(): Promise<number> {
  const server = http.createServer(() => undefined); // takes spans and never answers
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2/spans`;
    const r = await startReplica({ ZIPKIN_ENDPOINT: endpoint });
    await get(r.port, { "x-b3-traceid": "5af7183fb1d4cf5f", "x-b3-spanid": "6b221d5bc9e6496c" });
    const at = r.kill("SIGTERM");
    return (await r.exited).at - at;
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

const cases: [string, () => Promise<number>][] = [
  ["idle (one keep-alive request served before)", idle],
  ["request in flight (from its answer to exit)", inFlight],
  ["collector that never answers", hangingCollector],
];
for (const [name, run] of cases) {
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) ms.push(await run());
  ms.sort((a, b) => a - b);
  const median = ms[Math.floor(ms.length / 2)] ?? NaN;
  process.stdout.write(`${name}: ${median.toFixed(0)} ms to exit (median of ${rounds}; max ${(ms.at(-1) ?? NaN).toFixed(0)} ms)\n`);
}
