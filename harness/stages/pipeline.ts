// The pipeline (not a stage: it composes them): every stage in order, then teardown — also when a stage fails and on Ctrl-C / SIGTERM.
// `--keep` leaves the stack up and says how to reach it and how to tear it down.
import type { PipelineConfig } from "../config.ts";
import { log } from "../lib/log.ts";
import { settings } from "../settings.ts";
import { stopChildren } from "../lib/children.ts";
import type { StackEndpoints } from "../stack/discover.ts";
import { build } from "./build.ts";
import { stageContext, type StageContext } from "./context.ts";
import { deploy } from "./deploy.ts";
import { prepare } from "./prepare.ts";
import { scaleMeasured } from "./scale.ts";
import type { TeardownResult } from "../stack/teardown.ts";
import { verifyStack, type VerifyOutcome } from "../verify/orchestrator.ts";

export interface StageTiming {
  stage: string;
  seconds: number;
  ok: boolean;
}

export interface PipelineSummary {
  ok: boolean;
  timings: StageTiming[];
  verify?: VerifyOutcome;
  endpoints?: StackEndpoints;
  error?: string;
}

/** Times one stage into `timings`; once `interrupted()` says so, no stage but teardown starts. */
async function timed<T>(timings: StageTiming[], stage: string, work: () => Promise<T>, interrupted = (): boolean => false): Promise<T> {
  if (interrupted() && stage !== "teardown") throw new Error(`interrupted before the ${stage} stage`);
  const t0 = Date.now();
  log.info(`== ${stage}`);
  try {
    const result = await work();
    timings.push({ stage, seconds: (Date.now() - t0) / 1000, ok: true });
    return result;
  } catch (err) {
    timings.push({ stage, seconds: (Date.now() - t0) / 1000, ok: false });
    throw err;
  }
}

/** Runs the stages; resolves with the process exit code (0 only when every stage passed). */
export async function runPipeline(config: PipelineConfig): Promise<number> {
  const summary = await pipeline(config);
  process.stdout.write(formatSummary(config, summary));
  return summary.ok ? 0 : 1;
}

/**
 * After a signal: stop children and tear down, pass after pass, until two passes in a row (a second
 * apart) find nothing — the stage in flight may still start a compose child, and requests a stopped
 * compose had sent may still create containers in the daemon.
 */
async function sweepAfterSignal(current: () => StageContext | undefined, tearDown: () => Promise<void>): Promise<void> {
  let emptyPasses = 0;
  for (let pass = 0; pass < 20 && emptyPasses < 2; pass++) {
    if (pass > 0) await new Promise((r) => setTimeout(r, 1000));
    const stopped = await stopChildren("SIGTERM");
    if (stopped > 0) log.info(`  stopped ${stopped} child process(es) of the interrupted stage`);
    const ctx = current();
    if (!ctx) break;
    try {
      let r: TeardownResult | undefined;
      if (pass === 0) await tearDown();
      else r = await ctx.target.down();
      const empty = pass > 0 && r !== undefined && r.containers.length === 0 && r.networks.length === 0 && (r.services ?? []).length === 0;
      emptyPasses = empty ? emptyPasses + 1 : 0;
      if (r && !empty) log.warn(`  removed ${r.containers.length} more containers started while tearing down`);
    } catch (err) {
      emptyPasses = 0;
      log.warn(`  teardown pass ${pass + 1}: ${(err as Error).message.split("\n")[0]} (trying again)`);
    }
  }
}

export async function pipeline(config: PipelineConfig): Promise<PipelineSummary> {
  const timings: StageTiming[] = [];
  // Set on SIGINT/SIGTERM: the stages below check it before they start.
  let interrupted = false;
  const stage = <T>(name: string, work: () => Promise<T>): Promise<T> => timed(timings, name, work, () => interrupted);
  const summary: PipelineSummary = { ok: false, timings };
  let ctx: StageContext | undefined;
  // One teardown, whoever asks first (the failing stage's `finally` or a signal); others await it.
  let tornDown: Promise<void> | undefined;
  const tearDown = (): Promise<void> => {
    if (!ctx) return Promise.resolve();
    const c = ctx;
    tornDown ??= timed(timings, "teardown", () => c.target.down()).then(() => undefined);
    return tornDown;
  };

  // Ctrl-C or a CI abort: remove what we started before exiting. The stage in flight (a compose
  // child) may still create a container while the first pass runs, so passes repeat until one
  // finds nothing. A second signal exits at once.
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = true;
    log.warn(`${signal}: tearing down ${config.projectName} before exiting (again to exit now)`);
    process.once(signal, () => process.exit(130));
    void sweepAfterSignal(() => ctx, tearDown)
      .catch((err: unknown) => log.warn(`teardown failed: ${(err as Error).message}`))
      .finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    await stage("prepare", () => prepare());
    // The stack lives as long as this process (Ryuk removes it if the process dies), unless --keep.
    ctx = await stageContext(config, {}, { lifetime: config.keep ? "kept" : "process" });
    const c = ctx;
    await stage("build", () => build(c));
    summary.endpoints = (await stage("deploy", () => deploy(c))).endpoints;
    const scaled = await stage("scale", () => scaleMeasured(c));
    summary.verify = await stage("verify", () => verifyStack(c, { desired: config.scale, convergence: scaled.convergence }));
    summary.ok = summary.verify.passed;
    if (!summary.ok) summary.error = "verify found problems (see the checks above)";
  } catch (err) {
    summary.error = (err as Error).message;
    // One line; the stack trace only when asked for (it helps with bugs, not with a failed stage).
    log.info(`pipeline failed: ${settings().debug ? ((err as Error).stack ?? summary.error) : summary.error}`);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (config.keep && ctx) {
      log.info(`--keep: leaving ${config.projectName} running`);
    } else {
      try {
        await tearDown();
      } catch (err) {
        summary.ok = false;
        summary.error = `${summary.error ? `${summary.error}; ` : ""}teardown failed: ${(err as Error).message}`;
      }
    }
  }
  return summary;
}

export function formatSummary(config: PipelineConfig, summary: PipelineSummary): string {
  const lines: string[] = ["", `envoy-pipeline ${config.projectName}: ${summary.ok ? "PASSED" : "FAILED"}`];
  if (summary.error) lines.push(`  reason: ${summary.error}`);
  lines.push("", "  stage      seconds  result");
  for (const t of summary.timings) lines.push(`  ${t.stage.padEnd(10)} ${t.seconds.toFixed(1).padStart(7)}  ${t.ok ? "ok" : "FAILED"}`);
  const total = summary.timings.reduce((s, t) => s + t.seconds, 0);
  lines.push(`  ${"total".padEnd(10)} ${total.toFixed(1).padStart(7)}`);
  if (summary.verify) lines.push("", summary.verify.table);
  const urls: string[] = [];
  if (summary.endpoints) {
    urls.push(`    listener    ${summary.endpoints.listenerUrl}/service/1`);
    urls.push(`    Envoy admin ${summary.endpoints.adminUrl}/`);
  }
  const { prometheusUrl, zipkinUrl } = summary.verify?.observability ?? {};
  if (prometheusUrl) urls.push(`    Prometheus  ${prometheusUrl}/`);
  if (zipkinUrl) urls.push(`    Zipkin      ${zipkinUrl}/zipkin/`);
  if (config.keep) {
    lines.push("", "  The stack is still running:", ...urls);
    lines.push(`    tear down:  npx envoy-pipeline teardown --project ${config.projectName}`);
  } else if (urls.length > 0) {
    lines.push("", "  The stack was torn down; run with --keep to open these:", ...urls);
  }
  if (summary.verify) lines.push("", `  reports: ${Object.values(summary.verify.files).join(", ")}`);
  return `${lines.join("\n")}\n`;
}
