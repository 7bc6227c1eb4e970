// One pipeline run in its own process (so its peak RSS is its own), for bench/pipeline.ts: the
// whole pipeline at `--replicas N` (service1=N, service2=N), then, with the stack still up, its
// CPU at rest over `--idle-seconds`, then teardown. Prints one JSON line: each stage's seconds,
// requests and req/s per service, the harness's peak memory and the idle CPU per container.
//
//   node --import tsx bench/pipeline-run.ts --replicas 3 [--idle-seconds 30]
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { loadConfig } from "../harness/config.ts";
import { docker } from "../harness/docker/engine.ts";
import { pipeline } from "../harness/stages/pipeline.ts";
import { teardown } from "../harness/stack/teardown.ts";
import { cpuDelta, cpuSnapshot, type CpuUsage } from "./cpu.ts";

const { values } = parseArgs({
  options: { replicas: { type: "string", default: "3" }, "idle-seconds": { type: "string", default: "30" } },
});
const replicas = Number(values.replicas);
const idleSeconds = Number(values["idle-seconds"]);
if (!Number.isInteger(replicas) || replicas < 1 || replicas > 50 || !(idleSeconds >= 0 && idleSeconds <= 600)) {
  process.stderr.write("bench/pipeline-run.ts: --replicas must be 1-50 and --idle-seconds 0-600\n");
  process.exit(2);
}

const config = loadConfig({
  env: { ...process.env, BUILD_TAG: "" },
  // keep: the stack stays up after verify so that its idle CPU can be measured; removed below.
  cli: {
    projectName: `bench-${process.pid}-${replicas}`,
    scale: { service1: replicas, service2: replicas },
    keep: true,
    removeImages: true,
  },
});
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);
let idle: CpuUsage | undefined;
let summary: Awaited<ReturnType<typeof pipeline>> | undefined;
try {
  summary = await pipeline(config);
  clearInterval(sampler);
  if (summary.ok && idleSeconds > 0) {
    // A few seconds for the tail of verify (span uploads, the last scrapes) to settle first.
    await sleep(5000);
    const before = await cpuSnapshot(docker(), config.projectName);
    await sleep(idleSeconds * 1000);
    idle = cpuDelta(before, await cpuSnapshot(docker(), config.projectName));
  }
} finally {
  clearInterval(sampler);
  const t1 = Date.now();
  await teardown(docker(), config.projectName, { removeImages: true });
  summary?.timings.push({ stage: "teardown", seconds: (Date.now() - t1) / 1000, ok: true });
}
const maxRssKb = process.resourceUsage().maxRSS;
const services = summary?.verify?.report.services ?? [];
process.stdout.write(
  `${JSON.stringify({
    ok: summary?.ok ?? false,
    error: summary?.error ?? null,
    replicas,
    timings: summary?.timings ?? [],
    peakRssMiB: Math.max(peakRss, maxRssKb * 1024) / 2 ** 20,
    requests: services.map((s) => ({ service: s.service, requests: s.requests.sent, requestsPerSecond: s.requests.requestsPerSecond })),
    idle: idle ? { seconds: idle.seconds, containers: idle.containers } : null,
  })}\n`,
);
process.exitCode = summary?.ok ? 0 : 1;
