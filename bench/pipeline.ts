// The pipeline's growth benchmark: the whole pipeline (prepare, build, deploy, scale, verify,
// teardown) at 1+1, 3+3, 10+10 and 20+20 replicas, each in its own process, and beside each the
// yardstick: plain `docker compose build` + `up --wait --scale` of the same stack, no harness.
// Prints one table: each stage's seconds, requests and req/s per service, the harness's peak
// memory, and the stack's CPU at rest (after verify, over --idle-seconds).
//
//   npm run bench                                   1, 3, 10, 20 replicas per service
//   npm run bench -- --replicas 1,3 --idle-seconds 10 --no-yardstick
//   npm run bench -- --discovery dns,xds            convergence and scale-down errors per discovery mode
//
// Runs one stack at a time and removes each (containers, networks, its image tags) afterwards.
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { z } from "zod";
import { loadConfig } from "../harness/config.ts";
import { ensureDockerEngine } from "../harness/docker/engine.ts";
import { runCompose } from "../harness/stack/compose-cli.ts";
import { stageContext } from "../harness/stages/context.ts";
import { prepare } from "../harness/stages/prepare.ts";
import { teardown } from "../harness/stack/teardown.ts";
import { discoveryBench } from "./discovery.ts";

const { values } = parseArgs({
  options: {
    replicas: { type: "string", default: "1,3,10,20" },
    "idle-seconds": { type: "string", default: "30" },
    "no-yardstick": { type: "boolean", default: false },
    discovery: { type: "string" },
  },
});

// `--discovery dns,xds`: convergence and scale-down errors per discovery mode, instead (bench/discovery.ts).
if (values.discovery !== undefined) {
  const modes = values.discovery.split(",").map((m) => m.trim());
  const bad = modes.filter((m) => m !== "dns" && m !== "xds");
  if (bad.length > 0 || modes.length === 0) {
    process.stderr.write(`bench: --discovery takes dns, xds or dns,xds; got '${values.discovery}'\n`);
    process.exit(2);
  }
  await ensureDockerEngine();
  await discoveryBench(modes as ("dns" | "xds")[]);
  process.exit(0);
}

const scales = values.replicas.split(",").map(Number);
if (scales.length === 0 || scales.some((n) => !Number.isInteger(n) || n < 1 || n > 50)) {
  process.stderr.write(`bench: --replicas must be a comma-separated list of 1-50, got '${values.replicas}'\n`);
  process.exit(2);
}

const usageSchema = z.object({ name: z.string(), cores: z.number() });
const runSchema = z.object({
  ok: z.boolean(),
  error: z.string().nullable(),
  replicas: z.number(),
  timings: z.array(z.object({ stage: z.string(), seconds: z.number(), ok: z.boolean() })),
  peakRssMiB: z.number(),
  requests: z.array(z.object({ service: z.string(), requests: z.number(), requestsPerSecond: z.number() })),
  idle: z.object({ seconds: z.number(), containers: z.array(usageSchema) }).nullable(),
});
type Run = z.infer<typeof runSchema>;

function runPipeline(replicas: number): Run {
  process.stderr.write(`bench: pipeline at ${replicas}+${replicas} ...\n`);
  const child = spawnSync(
    process.execPath,
    ["--import", "tsx", "bench/pipeline-run.ts", "--replicas", String(replicas), "--idle-seconds", values["idle-seconds"]],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const line = child.stdout.trim().split("\n").pop() ?? "";
  let data: unknown = null;
  try {
    data = JSON.parse(line);
  } catch {
    // Reported below.
  }
  const parsed = runSchema.safeParse(data);
  if (!parsed.success)
    throw new Error(`bench: the ${replicas}+${replicas} run printed no result (exit ${child.status}): ${parsed.error.message}`);
  return parsed.data;
}

/**
 * Plain compose, the yardstick: `build`, then `up -d --wait --scale`, timed together; then removed.
 * A failure is a result too (printed as such), not the end of the benchmark.
 */
async function yardstick(replicas: number): Promise<number | string> {
  process.stderr.write(`bench: raw docker compose build + up --wait at ${replicas}+${replicas} ...\n`);
  const config = loadConfig({ env: { ...process.env, BUILD_TAG: "" }, cli: { projectName: `bench-raw-${process.pid}-${replicas}` } });
  const ctx = await stageContext(config);
  try {
    const t0 = Date.now();
    await runCompose(config, ["build"], ctx.composeEnv);
    const scale = ["service1", "service2"].flatMap((s) => ["--scale", `${s}=${replicas}`]);
    await runCompose(config, ["up", "-d", "--wait", ...scale], ctx.composeEnv);
    return (Date.now() - t0) / 1000;
  } catch (err) {
    return `failed: ${(err as Error).message.split("\n")[0]}`;
  } finally {
    await teardown(ctx.docker, config.projectName, { removeImages: true });
  }
}

await ensureDockerEngine();
await prepare();
const results: Array<{ replicas: number; run: Run; raw: number | string | undefined }> = [];
for (const replicas of scales) {
  const raw = values["no-yardstick"] ? undefined : await yardstick(replicas);
  results.push({ replicas, run: runPipeline(replicas), raw });
}

const stage = (r: Run, name: string): number | undefined => r.timings.find((t) => t.stage === name)?.seconds;
const sum = (r: Run, names: readonly string[]): number => names.reduce((s, n) => s + (stage(r, n) ?? 0), 0);
const fixed = (n: number | undefined, digits = 1): string => (n === undefined ? "-" : n.toFixed(digits));
const idleOf = (r: Run, service: RegExp): number[] =>
  (r.idle?.containers ?? []).filter((c) => service.test(c.name.replace(/-\d+$/, ""))).map((c) => c.cores);
const STAGES = ["prepare", "build", "deploy", "scale", "verify", "teardown"];

const rows: Array<[string, (x: (typeof results)[number]) => string]> = [
  ...STAGES.map((name): [string, (x: (typeof results)[number]) => string] => [`${name} (s)`, (x) => fixed(stage(x.run, name))]),
  ["stage total (s)", (x) => fixed(sum(x.run, STAGES))],
  ["build+deploy+scale (s)", (x) => fixed(sum(x.run, ["build", "deploy", "scale"]))],
  ["raw compose build+up --wait --scale (s)", (x) => (typeof x.raw === "string" ? x.raw : fixed(x.raw))],
  ["requests per service", (x) => x.run.requests.map((r) => r.requests).join(" / ") || "-"],
  ["req/s through Envoy, per service", (x) => x.run.requests.map((r) => r.requestsPerSecond.toFixed(0)).join(" / ") || "-"],
  ["harness peak RSS (MiB)", (x) => fixed(x.run.peakRssMiB, 0)],
  ["idle CPU, stack (cores)", (x) => (x.run.idle ? x.run.idle.containers.reduce((s, c) => s + c.cores, 0).toFixed(3) : "-")],
  [
    "idle CPU per replica, mean (cores)",
    (x) => {
      const v = idleOf(x.run, /^service/);
      return v.length ? (v.reduce((a, b) => a + b, 0) / v.length).toFixed(4) : "-";
    },
  ],
  [
    "idle CPU per replica, max (cores)",
    (x) => {
      const v = idleOf(x.run, /^service/);
      return v.length ? Math.max(...v).toFixed(4) : "-";
    },
  ],
  [
    "idle CPU envoy / zipkin / prometheus",
    (x) => [/front-envoy/, /zipkin/, /prometheus/].map((re) => (idleOf(x.run, re)[0] ?? Number.NaN).toFixed(3)).join(" / "),
  ],
  ["verdict", (x) => (x.run.ok ? "passed" : `FAILED: ${x.run.error ?? ""}`)],
];
const header = ["", ...results.map((x) => `${x.replicas}+${x.replicas}`)];
const table = [header, ...rows.map(([label, cell]) => [label, ...results.map(cell)])];
const widths = header.map((_, i) => Math.max(...table.map((row) => (row[i] ?? "").length)));
for (const row of table)
  console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  "));
process.exitCode = results.every((x) => x.run.ok) ? 0 : 1;
