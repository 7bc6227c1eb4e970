// The reaper container's entrypoint (images/ryuk): `node /ryuk/main.ts`, run by Node's type stripping.
// Exits 2 on a bad RYUK_* variable, 1 when something was left, 0 once all is pruned.
import { type ReaperConfig, reaperConfig } from "./config.ts";
import { slogLine } from "./protocol.ts";
import { startReaper } from "./reaper.ts";

async function main(): Promise<void> {
  let config: ReaperConfig;
  try {
    config = reaperConfig();
  } catch (err) {
    process.stdout.write(`${slogLine("ERROR", "load config", { error: (err as Error).message })}\n`);
    process.exit(2);
  }
  const reaper = await startReaper(config);
  process.on("SIGTERM", () => reaper.shutdown());
  process.on("SIGINT", () => reaper.shutdown());
  const result = await reaper.done;
  process.stdout.write(`${slogLine("INFO", "done")}\n`);
  process.exit(result.left === 0 ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stdout.write(`${slogLine("ERROR", "run", { error: (err as Error).message })}\n`);
  process.exit(1);
});
