// Webhook receiver start-up with a long delivery history (issue 23, item 6): the time from
// startWebhook() to the port being open, with an empty state (yardstick) and with 100,000 recorded
// deliveries (each a push that ran: 3 records), in the same run:
//   - the log as a receiver without compaction left it (one start replays it all, then compacts);
//   - the compacted state that start leaves (what every later start reads). Goal: ≤ 1 s.
//
//   npm run bench:webhook-startup [-- --deliveries 100000 --rounds 3]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startWebhook } from "../harness/webhook/app.ts";
import { statePaths } from "../harness/webhook/paths.ts";

const { values } = parseArgs({ options: { deliveries: { type: "string", default: "100000" }, rounds: { type: "string", default: "3" } } });
const count = Number(values.deliveries);
const rounds = Number(values.rounds);

/** A log of `n` pushes that each ran to success, as the receiver writes it (no compaction). */
function writeHistory(stateDir: string, n: number): number {
  const paths = statePaths(stateDir);
  mkdirSync(paths.runLogs, { recursive: true });
  const t0 = Date.parse("2026-01-01T00:00:00Z");
  const lines: string[] = [];
  for (let i = 1; i <= n; i++) {
    const at = new Date(t0 + i * 1000).toISOString();
    const id = `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
    const commit = i.toString(16).padStart(40, "0");
    const base = { v: 1, at, id };
    lines.push(
      JSON.stringify({
        ...base,
        type: "delivery",
        event: "push",
        repository: "octo/repo",
        ref: "refs/heads/main",
        branch: "main",
        commit,
        outcome: "queued",
        reason: null,
        supersedes: [],
      }),
      JSON.stringify({
        ...base,
        type: "run-started",
        run: i,
        trigger: "local",
        dryRun: false,
        buildTag: `envoy-pipeline-webhook-${commit.slice(0, 7)}-${i}`,
      }),
      JSON.stringify({
        ...base,
        type: "run-finished",
        run: i,
        outcome: "succeeded",
        reason: null,
        exitCode: 0,
        logFile: `${paths.runLogs}/run-${i}.log`,
      }),
    );
  }
  writeFileSync(paths.log, `${lines.join("\n")}\n`);
  return lines.length;
}

async function startOnce(stateDir: string): Promise<number> {
  const t0 = performance.now();
  const app = await startWebhook({
    port: 0,
    stateDir,
    secrets: ["bench"],
    dryRun: true,
    trigger: { kind: "local", describe: () => ({}), run: async () => ({ outcome: "succeeded", reason: null }) },
  });
  const ms = performance.now() - t0;
  await app.stop();
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const root = mkdtempSync(join(tmpdir(), "bench-webhook-startup-"));
try {
  const empty = join(root, "empty");
  const emptyMs = median(
    await Promise.all([]).then(async () => {
      const xs: number[] = [];
      for (let i = 0; i < rounds; i++) xs.push(await startOnce(empty));
      return xs;
    }),
  );
  const full = join(root, "full");
  const records = writeHistory(full, count);
  const firstMs = await startOnce(full);
  const later: number[] = [];
  for (let i = 0; i < rounds; i++) later.push(await startOnce(full));
  const laterMs = median(later);
  const f = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
  console.log(`start-up to listening, in process (median of ${rounds} where repeated):`);
  console.log(`  empty state (yardstick)                                ${f(emptyMs)}`);
  console.log(`  ${count} deliveries, uncompacted log (${records} records)   ${f(firstMs)}  (replays all once, then compacts)`);
  console.log(`  ${count} deliveries, compacted (every later start)        ${f(laterMs)}  [${later.map(f).join(", ")}]`);
  const pass = laterMs <= 1000;
  console.log(`goal (≤ 1 s with ${count} deliveries): ${pass ? "met" : "NOT met"}`);
  process.exitCode = pass ? 0 : 1;
} finally {
  rmSync(root, { recursive: true, force: true });
}
