// The false-alarm benchmark: verify, run N times against one healthy 3+3 stack, counts the runs in
// which any check failed. Nothing is wrong with the stack, so every failed run is a false alarm.
//
//   npm run bench:false-alarms -- [--runs 20] [--requests N] [--keep]
//
// Prints one line per run (PASS/FAIL, seconds, each failing check with its reason), then the runs,
// the false alarms, the false alarms per check and verify's seconds (p50, max). It measures and
// does not judge: exit 0 whenever the runs ran, whatever the count; 2 for bad flags; 1 when the
// stack could not be brought up.
//
// The stack runs under its own compose project and is always removed, with the images built for
// it: after the runs, on an error, and on Ctrl-C / SIGTERM (a second signal exits at once).
// --keep leaves it up (and the last run's reports), and says how to remove it.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { z } from "zod";
import { loadConfig } from "../harness/config.ts";
import { formatIssues } from "../harness/lib/errors.ts";
import { docker } from "../harness/docker/engine.ts";
import { log } from "../harness/lib/log.ts";
import { stopChildren } from "../harness/lib/children.ts";
import { build } from "../harness/stages/build.ts";
import { stageContext, type StageContext } from "../harness/stages/context.ts";
import { deploy } from "../harness/stages/deploy.ts";
import { prepare } from "../harness/stages/prepare.ts";
import { scale } from "../harness/stages/scale.ts";
import { teardown } from "../harness/stack/teardown.ts";
import { verifyStack } from "../harness/verify/orchestrator.ts";
import { percentileSorted } from "../harness/verify/stats/index.ts";

const SCALE = { service1: 3, service2: 3 };

const wholeNumber = (max: number) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(1, "must be at least 1").max(max, `must be at most ${max}`));

const flagsSchema = z.object({
  runs: wholeNumber(100_000),
  requests: wholeNumber(10_000_000).optional(),
  keep: z.boolean(),
});

function parseFlags(): z.infer<typeof flagsSchema> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      options: { runs: { type: "string", default: "20" }, requests: { type: "string" }, keep: { type: "boolean", default: false } },
    }));
  } catch (err) {
    return badInput((err as Error).message);
  }
  const parsed = flagsSchema.safeParse(values);
  if (!parsed.success) return badInput(formatIssues(parsed.error).replace(/^(\w+):/, "--$1:"));
  return parsed.data;
}

function badInput(message: string): never {
  process.stderr.write(`bench:false-alarms: ${message} (usage: --runs N --requests N --keep)\n`);
  process.exit(2);
}

interface Failure {
  service: string;
  check: string;
  reason: string;
}

interface Run {
  passed: boolean;
  seconds: number;
  failures: Failure[];
  /** Requests verify sent per service in this run. */
  requests: Record<string, number>;
}

const firstLine = (text: string): string => text.split("\n")[0] ?? "";
/** Compose's errors start with its progress output and end with the cause. */
const lastLine = (text: string): string =>
  text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .pop() ?? "";

const flags = parseFlags();
const project = `bench-false-alarms-${randomBytes(3).toString("hex")}`;
const reportDir = mkdtempSync(join(tmpdir(), "envoy-pipeline-false-alarms-"));
const config = loadConfig({
  env: { ...process.env, BUILD_TAG: "" },
  cli: { projectName: project, scale: SCALE, reportDir, verify: { requests: flags.requests ?? 0 } },
});

/** Removes the stack and its images; with `untilEmpty`, pass after pass until two find nothing. */
async function removeStack(untilEmpty: boolean): Promise<void> {
  let emptyPasses = 0;
  for (let pass = 0; pass < (untilEmpty ? 20 : 1) && emptyPasses < 2; pass++) {
    if (pass > 0) await new Promise((r) => setTimeout(r, 1000));
    // A compose child of an interrupted step may still create containers: stop it first.
    if (untilEmpty) await stopChildren("SIGTERM");
    try {
      const r = await teardown(docker(), project, { removeImages: true });
      const empty = r.containers.length === 0 && r.networks.length === 0;
      emptyPasses = empty ? emptyPasses + 1 : 0;
      if (!empty)
        log.info(`removed ${r.containers.length} containers, ${r.networks.length} networks, ${r.images.length} images of ${project}`);
    } catch (err) {
      emptyPasses = 0;
      log.warn(`teardown of ${project}: ${firstLine((err as Error).message)}${untilEmpty ? " (trying again)" : ""}`);
      if (!untilEmpty) throw err;
    }
  }
  rmSync(reportDir, { recursive: true, force: true });
}

let interrupted = false;
const runs: Run[] = [];
const onSignal = (signal: NodeJS.Signals): void => {
  interrupted = true;
  log.warn(`${signal}: removing ${project} before exiting (again to exit now)`);
  if (runs.length > 0) process.stdout.write(`${summary(runs, `, interrupted after ${runs.length} of ${flags.runs}`)}\n`);
  process.once(signal, () => process.exit(130));
  void removeStack(true)
    .catch((err: unknown) => log.warn(`teardown failed: ${(err as Error).message}`))
    .finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
};
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);

/** One verify run against the stack: its verdict, time and failing checks. */
async function verifyOnce(ctx: StageContext): Promise<Run> {
  const t0 = performance.now();
  try {
    const outcome = await verifyStack(ctx);
    const failures: Failure[] = outcome.report.services.flatMap((s) =>
      s.checks.filter((c) => !c.passed).map((c) => ({ service: s.service, check: c.name, reason: firstLine(c.reason) })),
    );
    if (!outcome.passed && failures.length === 0) failures.push({ service: "-", check: "report", reason: "failed without a failed check" });
    const requests = Object.fromEntries(outcome.report.services.map((s) => [s.service, s.requests.sent]));
    return { passed: outcome.passed, seconds: (performance.now() - t0) / 1000, failures, requests };
  } catch (err) {
    // verify throws only for internal errors; the run counts as failed all the same.
    return {
      passed: false,
      seconds: (performance.now() - t0) / 1000,
      failures: [{ service: "-", check: "error", reason: firstLine((err as Error).message) }],
      requests: {},
    };
  }
}

function summary(runs: readonly Run[], note = ""): string {
  const alarms = runs.filter((r) => !r.passed).length;
  const perCheck = new Map<string, number>();
  for (const r of runs) for (const check of new Set(r.failures.map((f) => f.check))) perCheck.set(check, (perCheck.get(check) ?? 0) + 1);
  const seconds = Float64Array.from(runs.map((r) => r.seconds)).sort();
  const requests = [...new Set(runs.flatMap((r) => Object.entries(r.requests).map(([s, n]) => `${s} ${n}`)))].join(", ");
  const rows: [string, string][] = [
    ["runs", String(runs.length)],
    ["false alarms", `${alarms} (runs with any failed check)`],
    ["per check", perCheck.size === 0 ? "none" : [...perCheck].map(([check, n]) => `${check} ${n}`).join(", ")],
    ["verify seconds", `p50 ${percentileSorted(seconds, 0.5).toFixed(1)}, max ${percentileSorted(seconds, 1).toFixed(1)}`],
    ["requests", `${requests || "none"} per run (${flags.requests ? "--requests" : "sized by verify's statistics"})`],
  ];
  return [
    `false alarms: ${runs.length} runs of verify on one healthy 3+3 stack (${project}${note})`,
    ...rows.map(([k, v]) => `  ${k.padEnd(15)} ${v}`),
  ].join("\n");
}

let currentStep = "";
async function main(): Promise<number> {
  const step = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    if (interrupted) throw new Error(`interrupted before ${what}`);
    currentStep = what;
    return work();
  };
  await step("prepare", () => prepare());
  const ctx = await step("the stage context", () => stageContext(config));
  await step("build", () => build(ctx));
  await step("deploy", () => deploy(ctx));
  await step("scale", () => scale(ctx));
  currentStep = "verify";
  for (let i = 1; i <= flags.runs && !interrupted; i++) {
    log.info(`== verify run ${i}/${flags.runs}`);
    const run = await verifyOnce(ctx);
    runs.push(run);
    const failures = run.failures.map((f) => `${f.service} ${f.check}: ${f.reason}`).join(" | ");
    process.stdout.write(
      `run ${String(i).padStart(String(flags.runs).length)}/${flags.runs}  ${run.passed ? "PASS" : "FAIL"}  ${run.seconds.toFixed(1)} s${failures ? `  ${failures}` : ""}\n`,
    );
  }
  process.stdout.write(`${summary(runs)}\n`);
  return 0;
}

let exitCode: number;
try {
  exitCode = await main();
} catch (err) {
  // After a signal, the step it cut short fails too: nothing to report about that.
  if (!interrupted) log.warn(`bench:false-alarms: ${currentStep} failed: ${lastLine((err as Error).message)}`);
  exitCode = 1;
}
// After a signal, its handler removes the stack and exits; the handlers stay on through the
// teardown below, so that Ctrl-C during it still finishes the removal.
if (interrupted) await new Promise(() => undefined);
if (flags.keep && exitCode === 0) {
  log.info(`kept ${project} and the last run's reports in ${reportDir}; remove the stack with:`);
  log.info(`  node --import tsx harness/cli.ts teardown --project ${project} --remove-images`);
} else {
  await removeStack(false).catch((err: unknown) => {
    log.warn(`teardown failed: ${firstLine((err as Error).message)}`);
    exitCode = 1;
  });
}
process.exit(exitCode);
