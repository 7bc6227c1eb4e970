// The pipeline's benchmark: a cold and a warm run of the whole pipeline (prepare, build, deploy,
// scale 3+3, verify, teardown), each in its own process, printing every stage's time, the total
// and the harness's peak memory. Targets: warm pipeline under 60 s, teardown under 5 s.
//
//   npm run bench                 cold + warm
//   npm run bench -- --warm-only  only the warm run (images already prepared)
//   npm run bench -- --discovery dns,xds   convergence and scale-down errors per discovery mode
//
// "Cold" removes the locally built base images first (downloads stay cached under .cache/), so
// prepare rebuilds them from debootstrap on; on a connected host it removes nothing and is warm.
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { z } from "zod";
import { docker, ensureDockerEngine } from "../harness/docker/engine.ts";
import { IMAGE_NAMES, planImages } from "../harness/images/index.ts";
import { discoveryBench } from "./discovery.ts";

const { values } = parseArgs({ options: { "warm-only": { type: "boolean", default: false }, discovery: { type: "string" } } });

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

const runSchema = z.object({
  ok: z.boolean(),
  error: z.string().nullable(),
  totalSeconds: z.number(),
  timings: z.array(z.object({ stage: z.string(), seconds: z.number(), ok: z.boolean() })),
  peakRssMiB: z.number(),
  requests: z.array(z.object({ service: z.string(), requests: z.number() })),
});
type Run = z.infer<typeof runSchema>;

async function removeLocalBaseImages(): Promise<string[]> {
  const plan = planImages();
  const refs = [...IMAGE_NAMES.map((n) => plan.images[n].tag), plan.base.tag];
  const removed: string[] = [];
  for (const ref of refs) {
    try {
      await docker().getImage(ref).remove();
      removed.push(ref);
    } catch {
      // Not present (or official images in use): nothing to make cold.
    }
  }
  return removed;
}

function runOnce(label: string): Run {
  process.stderr.write(`bench: ${label} pipeline run ...\n`);
  const child = spawnSync(process.execPath, ["--import", "tsx", "bench/pipeline-run.ts"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = child.stdout.trim().split("\n").pop() ?? "";
  const parsed = runSchema.safeParse(JSON.parse(line || "null"));
  if (!parsed.success) throw new Error(`bench: the ${label} run printed no result (exit ${child.status}): ${parsed.error.message}`);
  return parsed.data;
}

await ensureDockerEngine();
const runs: Array<[string, Run]> = [];
if (!values["warm-only"]) {
  const removed = await removeLocalBaseImages();
  process.stderr.write(`bench: cold run: removed ${removed.length} local base images\n`);
  runs.push(["cold", runOnce("cold")]);
}
runs.push(["warm", runOnce("warm")]);

const stages = ["prepare", "build", "deploy", "scale", "verify", "teardown"];
const header = ["stage", ...runs.map(([label]) => `${label} (s)`)];
const rows: string[][] = stages.map((stage) => [
  stage,
  ...runs.map(([, r]) => r.timings.find((t) => t.stage === stage)?.seconds.toFixed(1) ?? "-"),
]);
rows.push(["total", ...runs.map(([, r]) => r.totalSeconds.toFixed(1))]);
rows.push(["peak RSS (MiB)", ...runs.map(([, r]) => r.peakRssMiB.toFixed(0))]);
rows.push(["verdict", ...runs.map(([, r]) => (r.ok ? "passed" : `FAILED: ${r.error ?? ""}`))]);
const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => (row[i] ?? "").length)));
for (const row of [header, ...rows]) console.log(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  "));
const warm = runs.find(([label]) => label === "warm")?.[1];
if (warm) {
  const teardown = warm.timings.find((t) => t.stage === "teardown")?.seconds ?? Number.NaN;
  console.log(`targets: warm pipeline ${warm.totalSeconds.toFixed(1)} s (< 60 s: ${warm.totalSeconds < 60 ? "met" : "missed"}), teardown ${teardown.toFixed(1)} s (< 5 s: ${teardown < 5 ? "met" : "missed"})`);
}
