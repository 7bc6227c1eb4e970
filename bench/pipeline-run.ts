// One pipeline run in its own process (so its peak RSS is its own), for bench/pipeline.ts:
// prints one JSON line with each stage's seconds and the harness's peak memory.
import { loadConfig } from "../harness/config.ts";
import { pipeline } from "../harness/stages/pipeline.ts";

const config = loadConfig({ env: { ...process.env, BUILD_TAG: "" }, cli: { projectName: `bench-${process.pid}` } });
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);
const t0 = Date.now();
const summary = await pipeline(config);
clearInterval(sampler);
const maxRssKb = process.resourceUsage().maxRSS;
process.stdout.write(
  `${JSON.stringify({
    ok: summary.ok,
    error: summary.error ?? null,
    totalSeconds: (Date.now() - t0) / 1000,
    timings: summary.timings,
    peakRssMiB: Math.max(peakRss, maxRssKb * 1024) / 2 ** 20,
    requests: summary.verify?.report.services.map((s) => ({ service: s.service, requests: s.requests.sent })) ?? [],
  })}\n`,
);
process.exitCode = summary.ok ? 0 : 1;
