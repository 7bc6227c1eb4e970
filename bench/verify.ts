// The verifier's load generator against autocannon, through the same Envoy, to the same URL, with
// the same number of keep-alive connections, in the same run (rounds alternate so that neither
// gets a warmer Envoy). Prints requests per second of each, the ratio (target >= 0.8), and the
// harness's CPU time and memory per 10k requests.
//
//   node --expose-gc --import tsx bench/verify.ts [--requests 20000] [--connections 8] [--rounds 3]
//        [--listener http://127.0.0.1:8080 --path /service/1]
//
// Without --listener it starts the local-Envoy fixture (test/fixtures/envoy/round-robin.yaml,
// Envoy with 2 workers, three backend processes); that needs an Envoy binary (ENVOY_BIN).
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import autocannon, { type AutocannonResult } from "autocannon";
import { runLoad } from "../harness/verify/load.ts";
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

async function harnessRound(url: string, n: number): Promise<HarnessSample> {
  settle();
  const heap0 = process.memoryUsage().heapUsed;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await runLoad({ listenerUrl: url, path, requests: n, concurrency: connections, connections, expectedServiceId: serviceIdFromPath(path) });
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
      backends: [{ hostname: "alpha" }, { hostname: "bravo" }, { hostname: "charlie" }, { hostname: "delta", serviceId: "2" }, { hostname: "echo", serviceId: "2" }],
    });
    url = stack.listenerUrl;
  }
  process.stderr.write(`bench: ${requests} requests x ${rounds} rounds each, ${connections} connections, ${url}${path}${gc ? "" : " (run with --expose-gc for steadier memory figures)"}\n`);
  // Warm up both (JIT, Envoy's upstream connections).
  await harnessRound(url, Math.min(2000, requests));
  await autocannonRound(url, Math.min(2000, requests));

  const harness: HarnessSample[] = [];
  const cannon: (Sample & { errors: number; non2xx: number })[] = [];
  for (let i = 0; i < rounds; i++) {
    const h = await harnessRound(url, requests);
    const a = await autocannonRound(url, requests);
    harness.push(h);
    cannon.push(a);
    process.stderr.write(
      `  round ${i + 1}: harness ${h.rps.toFixed(0)} req/s (${h.ok}/${requests} ok), autocannon ${a.rps.toFixed(0)} req/s (${a.errors} errors, ${a.non2xx} non-2xx), ratio ${(h.rps / a.rps).toFixed(3)}\n`,
    );
  }
  const ratios = harness.map((h, i) => h.rps / cannon[i]!.rps);
  const summary = {
    requests,
    connections,
    rounds,
    harnessRps: median(harness.map((h) => h.rps)),
    autocannonRps: median(cannon.map((a) => a.rps)),
    ratio: median(ratios),
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
      [
        `verifier:   ${summary.harnessRps.toFixed(0)} req/s (median of ${rounds})`,
        `autocannon: ${summary.autocannonRps.toFixed(0)} req/s`,
        `ratio:      ${summary.ratio.toFixed(3)} (target >= ${summary.target}) ${summary.ratio >= summary.target ? "OK" : "BELOW TARGET"}`,
        `harness CPU per 10k requests: ${summary.harnessCpuMsPer10k.toFixed(0)} ms (autocannon: ${summary.autocannonCpuMsPer10k.toFixed(0)} ms)`,
        `harness memory: heap retained ${summary.harnessHeapRetainedKbPer10k.toFixed(0)} KiB per 10k requests; rss ${summary.rssMb.toFixed(0)} MiB (process max ${summary.maxRssMb.toFixed(0)} MiB)`,
      ].join("\n") + "\n",
    );
  }
  process.exitCode = summary.ratio >= summary.target ? 0 : 1;
} finally {
  await stack?.close();
}
