// The verifier's load generator against autocannon, through the same Envoy, to the same URL, with
// the same number of keep-alive connections, in the same run (rounds alternate so that neither
// gets a warmer Envoy). Prints requests per second of each, the ratio (target >= 0.8), and the
// harness's CPU time and memory per 10k requests. The same loop with axios as the HTTP client runs
// in every round too, as the figure that decides which client harness/verify/load.ts uses.
//
//   node --expose-gc --import tsx bench/verify.ts [--requests 20000] [--connections 8] [--rounds 3]
//        [--listener http://127.0.0.1:8080 --path /service/1]
//
// Without --listener it starts the local-Envoy fixture (test/fixtures/envoy/round-robin.yaml,
// Envoy with 2 workers, three backend processes); that needs an Envoy binary (ENVOY_BIN).
import { Agent } from "node:http";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import autocannon, { type AutocannonResult } from "autocannon";
import axios from "axios";
import type { Dispatcher } from "undici";
import { drive, runLoad, Tally } from "../harness/verify/load.ts";
import { serviceIdFromPath } from "../harness/verify/run.ts";
import { startLocalStack, type LocalStack } from "../test/fixtures/local-envoy.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "20000" },
    connections: { type: "string", default: "8" },
    rounds: { type: "string", default: "3" },
    listener: { type: "string" },
    path: { type: "string", default: "/service/1" },
    json: { type: "boolean", default: false },
  },
});
const requests = Number(values.requests);
const connections = Number(values.connections);
const rounds = Number(values.rounds);
const path = values.path;
if (![requests, connections, rounds].every((n) => Number.isInteger(n) && n > 0)) {
  throw new Error("--requests, --connections and --rounds must be positive integers");
}

const gc = (globalThis as { gc?: () => void }).gc;
const settle = (): void => {
  gc?.();
  gc?.();
};

interface Sample {
  rps: number;
  cpuMsPer10k: number;
  seconds: number;
}

interface HarnessSample extends Sample {
  ok: number;
  heapRetainedKbPer10k: number;
  rssMb: number;
}

/**
 * The verifier's request loop (`drive`, the same Tally and parsing) with axios as the HTTP client:
 * a keep-alive agent with `connections` sockets at most, the body as a Buffer, no transforms.
 * It answers `drive`'s dispatcher calls, so only the client differs from the undici figures.
 */
async function runLoadWithAxios(url: string, n: number): Promise<{ tally: Tally }> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const client = axios.create({
    baseURL: new URL(url).origin,
    httpAgent: agent,
    proxy: false,
    // 0: axios' plain http transport, not the follow-redirects wrapper (as harness/lib/http.ts).
    maxRedirects: 0,
    responseType: "arraybuffer",
    transformResponse: [(data: unknown) => data],
    validateStatus: () => true,
    timeout: 10_000,
  });
  const dispatcher = {
    dispatch(opts: { path: string; headers?: Record<string, string> }, handler: Dispatcher.DispatchHandler): boolean {
      client.get<Buffer>(opts.path, { headers: opts.headers ?? {} }).then(
        (res) => {
          const controller = undefined as unknown as Dispatcher.DispatchController;
          handler.onResponseStart?.(controller, res.status, {}, "");
          handler.onResponseData?.(controller, res.data);
          handler.onResponseEnd?.(controller, {});
        },
        (err: Error) => handler.onResponseError?.(undefined as unknown as Dispatcher.DispatchController, err),
      );
      return true;
    },
  } as unknown as Dispatcher;
  const tally = new Tally(serviceIdFromPath(path));
  try {
    await drive(dispatcher, path, n, connections, tally);
  } finally {
    agent.destroy();
  }
  return { tally };
}

type Client = "undici" | "axios";

async function harnessRound(url: string, n: number, client: Client = "undici"): Promise<HarnessSample> {
  settle();
  const heap0 = process.memoryUsage().heapUsed;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r =
    client === "axios"
      ? await runLoadWithAxios(url, n)
      : await runLoad({
          listenerUrl: url,
          path,
          requests: n,
          concurrency: connections,
          connections,
          expectedServiceId: serviceIdFromPath(path),
        });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const rssMb = process.memoryUsage().rss / 2 ** 20;
  settle();
  // What the tally keeps (latencies, per-replica counts) while it is still referenced.
  const heapRetained = process.memoryUsage().heapUsed - heap0;
  const ok = r.tally.ok;
  return {
    rps: n / seconds,
    cpuMsPer10k: ((cpu.user + cpu.system) / 1000) * (10_000 / n),
    seconds,
    ok,
    heapRetainedKbPer10k: (heapRetained / 1024) * (10_000 / n),
    rssMb,
  };
}

/**
 * autocannon with `amount` only notices it is done at its next once-a-second tick, and its own
 * `duration` includes that wait; so the clock stops here at its n-th response instead.
 */
async function autocannonRound(url: string, n: number): Promise<Sample & { errors: number; non2xx: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let responses = 0;
  let tLast = 0;
  let cpuAtLast = cpu0;
  const r = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon({ url: `${url}${path}`, connections, pipelining: 1, amount: n, timeout: 10 }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
    instance.on("response", () => {
      responses += 1;
      if (responses === n) {
        tLast = performance.now();
        cpuAtLast = process.cpuUsage(cpu0);
      }
    });
  });
  const seconds = ((tLast || performance.now()) - t0) / 1000;
  const cpu = tLast ? cpuAtLast : process.cpuUsage(cpu0);
  return { rps: n / seconds, cpuMsPer10k: ((cpu.user + cpu.system) / 1000) * (10_000 / n), seconds, errors: r.errors, non2xx: r.non2xx };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

let stack: LocalStack | undefined;
try {
  let url = values.listener;
  if (!url) {
    stack = await startLocalStack({
      config: "round-robin.yaml",
      backends: [
        { hostname: "alpha" },
        { hostname: "bravo" },
        { hostname: "charlie" },
        { hostname: "delta", serviceId: "2" },
        { hostname: "echo", serviceId: "2" },
      ],
    });
    url = stack.listenerUrl;
  }
  process.stderr.write(
    `bench: ${requests} requests x ${rounds} rounds each, ${connections} connections, ${url}${path}` +
      `${gc ? "" : " (run with --expose-gc for steadier memory figures)"}\n`,
  );
  // Warm up both (JIT, Envoy's upstream connections).
  await harnessRound(url, Math.min(2000, requests));
  await harnessRound(url, Math.min(2000, requests), "axios");
  await autocannonRound(url, Math.min(2000, requests));

  const harness: HarnessSample[] = [];
  const withAxios: HarnessSample[] = [];
  const cannon: (Sample & { errors: number; non2xx: number })[] = [];
  for (let i = 0; i < rounds; i++) {
    const h = await harnessRound(url, requests);
    const x = await harnessRound(url, requests, "axios");
    const a = await autocannonRound(url, requests);
    harness.push(h);
    withAxios.push(x);
    cannon.push(a);
    process.stderr.write(
      `  round ${i + 1}: harness (undici) ${h.rps.toFixed(0)} req/s (${h.ok}/${requests} ok), ` +
        `harness (axios) ${x.rps.toFixed(0)} req/s (${x.ok}/${requests} ok), ` +
        `autocannon ${a.rps.toFixed(0)} req/s (${a.errors} errors, ${a.non2xx} non-2xx), ` +
        `ratios ${(h.rps / a.rps).toFixed(3)} / ${(x.rps / a.rps).toFixed(3)}\n`,
    );
  }
  const ratios = harness.map((h, i) => h.rps / cannon[i]!.rps);
  const axiosRatios = withAxios.map((x, i) => x.rps / cannon[i]!.rps);
  const summary = {
    requests,
    connections,
    rounds,
    harnessRps: median(harness.map((h) => h.rps)),
    autocannonRps: median(cannon.map((a) => a.rps)),
    ratio: median(ratios),
    axiosRps: median(withAxios.map((x) => x.rps)),
    axiosRatio: median(axiosRatios),
    axiosCpuMsPer10k: median(withAxios.map((x) => x.cpuMsPer10k)),
    target: 0.8,
    harnessCpuMsPer10k: median(harness.map((h) => h.cpuMsPer10k)),
    autocannonCpuMsPer10k: median(cannon.map((a) => a.cpuMsPer10k)),
    harnessHeapRetainedKbPer10k: median(harness.map((h) => h.heapRetainedKbPer10k)),
    rssMb: Math.max(...harness.map((h) => h.rssMb)),
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(
      `${[
        `verifier:   ${summary.harnessRps.toFixed(0)} req/s (median of ${rounds})`,
        `autocannon: ${summary.autocannonRps.toFixed(0)} req/s`,
        `ratio:      ${summary.ratio.toFixed(3)} (target >= ${summary.target}) ${summary.ratio >= summary.target ? "OK" : "BELOW TARGET"}`,
        `axios:      ${summary.axiosRps.toFixed(0)} req/s, ratio ${summary.axiosRatio.toFixed(3)}, ` +
          `CPU per 10k requests ${summary.axiosCpuMsPer10k.toFixed(0)} ms ` +
          `(the same loop with axios as the client; ${summary.axiosRatio >= summary.target ? "holds" : "misses"} the target)`,
        `harness CPU per 10k requests: ${summary.harnessCpuMsPer10k.toFixed(0)} ms ` +
          `(autocannon: ${summary.autocannonCpuMsPer10k.toFixed(0)} ms)`,
        `harness memory: heap retained ${summary.harnessHeapRetainedKbPer10k.toFixed(0)} KiB per 10k requests; ` +
          `rss ${summary.rssMb.toFixed(0)} MiB (process max ${summary.maxRssMb.toFixed(0)} MiB)`,
      ].join("\n")}\n`,
    );
  }
  process.exitCode = summary.ratio >= summary.target ? 0 : 1;
} finally {
  await stack?.close();
}
