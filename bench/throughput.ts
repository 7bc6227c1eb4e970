// Throughput through Envoy: deploys a 3+3 stack (or uses a running one), then sends a fixed number
// of requests with autocannon at the verifier's default concurrency, alternating /service/1 and
// /service/2, and prints requests per second, p99 latency and each container's CPU during the load
// (plus the engine's processes and the whole machine, when the engine runs here).
//
//   npm run bench:throughput [-- --requests 40000 --concurrency 8 --sampling 1 --rounds 1]
//   npm run bench:throughput -- --project <running stack>     (no deploy, no teardown)
//
// --sampling sets Envoy's tracing sampling (percent) for the run, as the pipeline's
// tracing.sampling setting does; without it the configured default applies.
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { loadConfig, type ConfigLayer } from "../harness/config.ts";
import { EnvoyAdmin } from "../harness/envoy/admin.ts";
import { applyTracingSampling, tracingSampling } from "../harness/envoy/tracing-sampling.ts";
import { stackEndpoints } from "../harness/stack/discover.ts";
import { docker } from "../harness/docker/engine.ts";
import { build } from "../harness/stages/build.ts";
import { stageContext } from "../harness/stages/context.ts";
import { deploy } from "../harness/stages/deploy.ts";
import { prepare } from "../harness/stages/prepare.ts";
import { scale } from "../harness/stages/scale.ts";
import { teardown } from "../harness/stack/teardown.ts";
import { coresOf, cpuDelta, cpuSnapshot, formatUsage } from "./cpu.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "40000" },
    concurrency: { type: "string", default: "8" },
    rounds: { type: "string", default: "1" },
    sampling: { type: "string" },
    project: { type: "string" },
  },
});
const requests = Number(values.requests);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);
if (![requests, concurrency, rounds].every((n) => Number.isInteger(n) && n > 0) || requests > 1_000_000 || rounds > 10) {
  process.stderr.write("bench:throughput: --requests (≤ 1,000,000), --concurrency and --rounds (≤ 10) must be positive integers\n");
  process.exit(2);
}
const cli: ConfigLayer = { scale: { service1: 3, service2: 3 }, ...(values.project && { projectName: values.project }) };
if (values.sampling !== undefined) cli.tracing = { sampling: Number(values.sampling) };
const config = loadConfig({ env: { ...process.env, BUILD_TAG: "" }, cli: { projectName: `bench-tp-${process.pid}`, ...cli } });

const ours = values.project === undefined;
let ctx: Awaited<ReturnType<typeof stageContext>> | undefined;
try {
  if (ours) {
    process.stderr.write(`bench: deploying ${config.projectName} (3+3) ...\n`);
    await prepare();
    ctx = await stageContext(config);
    await build(ctx);
    await deploy(ctx);
    await scale(ctx);
  }
  const endpoints = await stackEndpoints(docker(), config.projectName);
  const admin = new EnvoyAdmin(endpoints.adminUrl);
  if (!ours && values.sampling !== undefined) await applyTracingSampling(admin, config.tracing.sampling);
  const sampling = (await tracingSampling(admin)) ?? "envoy.yaml's";
  console.log(
    `throughput through Envoy, project ${config.projectName}: ${requests} requests per round, concurrency ${concurrency}, tracing sampling ${sampling} %`,
  );
  for (let round = 1; round <= rounds; round++) {
    const before = await cpuSnapshot(docker(), config.projectName);
    const client0 = process.cpuUsage();
    // Two autocannon instances, one per service, share the connections: /service/1 and /service/2.
    const half = Math.floor(concurrency / 2) || 1;
    const results = await Promise.all(
      ["/service/1", "/service/2"].map((path, i) =>
        autocannon({
          url: new URL(path, endpoints.listenerUrl).toString(),
          connections: i === 0 ? concurrency - half || 1 : half,
          amount: Math.round(requests / 2),
          timeout: 10,
        }),
      ),
    );
    const client = process.cpuUsage(client0);
    const usage = cpuDelta(before, await cpuSnapshot(docker(), config.projectName));
    const ok = results.reduce((s, r) => s + r["2xx"], 0);
    const bad = results.reduce((s, r) => s + r.non2xx + r.errors + r.timeouts, 0);
    const seconds = Math.max(...results.map((r) => r.duration));
    const p99 = Math.max(...results.map((r) => r.latency.p99));
    console.log(`round ${round}: ${(ok / seconds).toFixed(0)} req/s (${ok} 2xx, ${bad} other) in ${seconds.toFixed(1)} s, p99 ${p99} ms`);
    console.log(
      `  CPU during the load (cores): envoy ${coresOf(usage, /front-envoy/).toFixed(2)}, services ${coresOf(usage, /^service/).toFixed(2)}, zipkin ${coresOf(usage, /zipkin/).toFixed(2)}, prometheus ${coresOf(usage, /prometheus/).toFixed(2)}`,
    );
    console.log(formatUsage(usage));
    console.log(`  ${"autocannon (this process)".padEnd(22)} ${((client.user + client.system) / 1e6 / usage.seconds).toFixed(3)} cores`);
  }
} finally {
  if (ours && ctx) await teardown(ctx.docker, config.projectName, { removeImages: false });
}
