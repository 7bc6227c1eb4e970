// verify: the load-balancing proof against the deployed stack, then its observability
// (verify/orchestrator.ts; how the verdict holds up when the stack is broken: docs/verify.md).
import { log } from "../lib/log.ts";
import { verifyStack } from "../verify/orchestrator.ts";
import type { StageContext } from "./context.ts";

/**
 * The verify command on its own: tables on stdout (or the JSON report); exit 0 only if all passed,
 * else 1. Without `--scale` (or ENVOY_PIPELINE_SCALE) it checks the stack against what deploy or
 * scale last applied to it, else the config's scale.
 */
export async function runVerifyStage(ctx: StageContext, opts: { json: boolean; scaleGiven: boolean }): Promise<number> {
  const applied = opts.scaleGiven ? undefined : await ctx.locator.appliedScale();
  if (applied) {
    const scale = Object.entries(applied)
      .map(([s, n]) => `${s}=${n}`)
      .join(", ");
    log.info(`verify: desired state as last applied to the stack: ${scale} (--scale checks against another)`);
  }
  const outcome = await verifyStack(ctx, applied ? { desired: applied } : {});
  if (opts.json) process.stdout.write(`${JSON.stringify(outcome.report, null, 2)}\n`);
  else process.stdout.write(`${outcome.table}\n`);
  log.info(`reports: ${Object.values(outcome.files).join(", ")}`);
  return outcome.passed ? 0 : 1;
}
