// How much of Zipkin is health checks and metrics scrapes: deploys a stack (its own compose
// project), sends a few real requests, lets it idle, then reads the newest traces from Zipkin and
// counts those whose root span is `/healthz` or `/metrics`. Tears the stack down, also on Ctrl-C.
//
//   node --import tsx bench/trace-noise.ts [--idle 60] [--requests 10] [--limit 1000] [--compose-file <path>]
//
// To measure another revision (e.g. before a change), point --compose-file at its checkout:
//   git -C <repo> archive <rev> | tar -x -C /tmp/rev && node --import tsx bench/trace-noise.ts --compose-file /tmp/rev/docker-compose.yml
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { loadConfig } from "../harness/config.ts";
import { observabilityEndpoints } from "../harness/observability/endpoints.ts";
import { traceNoise } from "../harness/observability/trace-noise.ts";
import { ZipkinClient } from "../harness/observability/zipkin.ts";
import { routeFor } from "../harness/stack/routes.ts";
import { build } from "../harness/stages/build.ts";
import { stageContext } from "../harness/stages/context.ts";
import { deploy } from "../harness/stages/deploy.ts";
import { teardown } from "../harness/stack/teardown.ts";

const { values } = parseArgs({
  options: {
    idle: { type: "string", default: "60" },
    requests: { type: "string", default: "10" },
    limit: { type: "string", default: "1000" },
    "compose-file": { type: "string" },
  },
});
const idleSeconds = Number(values.idle);
const requests = Number(values.requests);
const limit = Number(values.limit);
if (![idleSeconds, requests, limit].every((n) => Number.isInteger(n) && n >= 0) || limit === 0) {
  console.error("--idle, --requests and --limit must be non-negative integers (--limit > 0)");
  process.exit(2);
}

const config = loadConfig({
  env: {},
  cli: { projectName: `bench-noise-${process.pid}`, ...(values["compose-file"] ? { composeFile: values["compose-file"] } : {}) },
});
const ctx = await stageContext(config);
let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await teardown(ctx.docker, config.projectName, { removeImages: true });
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void stop().finally(() => process.exit(130));
  });
}

try {
  await build(ctx);
  const deployed = await deploy(ctx);
  const zipkin = new ZipkinClient((await observabilityEndpoints(ctx.docker, config.projectName)).zipkinUrl, 30_000);
  await zipkin.untilHealthy(config.waitTimeoutSeconds * 1000); // deploy does not wait for Zipkin
  const started = Date.now();
  for (const service of ["service1", "service2"]) {
    for (let i = 0; i < requests; i++) {
      const res = await fetch(`${deployed.endpoints.listenerUrl}${routeFor(service).path}`);
      await res.body?.cancel();
    }
  }
  // A measurement, not a test: the stack idles for the given time on purpose.
  await sleep(idleSeconds * 1000);
  const traces = await zipkin.traces({ limit, lookbackMs: Date.now() - started + 60_000 });
  const noise = traceNoise(traces);
  const services = await zipkin.serviceNames();
  const spanNames = Object.fromEntries(await Promise.all(services.map(async (s) => [s, await zipkin.spanNames(s)] as const)));
  console.log(`compose file: ${config.composeFile}`);
  console.log(`${requests} requests to each service, then ${idleSeconds} s idle; newest ${noise.traces} traces (limit ${limit}):`);
  console.log(
    `  health-check/scrape roots: ${noise.probeRoots} of ${noise.traces} (${(noise.share * 100).toFixed(1)} %); probe spans anywhere: ${noise.probeSpans}`,
  );
  for (const [name, n] of noise.rootNames) console.log(`  ${String(n).padStart(5)}  ${name}`);
  for (const [service, names] of Object.entries(spanNames)) console.log(`  span names of ${service}: ${names.join(", ") || "(none)"}`);
} finally {
  await stop();
}
