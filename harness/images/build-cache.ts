// Keeps Docker's build cache bounded, with a policy that cannot hurt anyone else's work.
// Design notes: docs/images.md ("images/build-cache.ts").
import { lastLines, runCommand } from "../docker/exec.ts";

export const BUILD_CACHE_POLICY = { unusedFor: "24h", keepDefault: "2GB" } as const;

export async function pruneBuildCache(keepSetting: string | undefined, log: (line: string) => void = () => undefined): Promise<void> {
  const keep = keepSetting ?? BUILD_CACHE_POLICY.keepDefault;
  if (/^(off|none|false)$/i.test(keep)) return;
  if (!/^\d+(\.\d+)?\s*(b|kb|mb|gb|tb)?$/i.test(keep)) {
    log(`build cache: ENVOY_PIPELINE_BUILD_CACHE_KEEP='${keep}' is not a size like 2GB or 500MB: not pruning`);
    return;
  }
  const r = await runCommand(
    "docker",
    ["builder", "prune", "--force", "--filter", `until=${BUILD_CACHE_POLICY.unusedFor}`, "--keep-storage", keep],
    { timeoutMs: 120_000 },
  );
  const reclaimed = /Total:\s*(\S+)/.exec(r.stdout)?.[1];
  if (r.code !== 0) log(`build cache: docker builder prune failed: ${lastLines(r.stderr || r.stdout, 1)}`);
  else log(`build cache: entries unused for ${BUILD_CACHE_POLICY.unusedFor} beyond ${keep} pruned (${reclaimed ?? "0B"} reclaimed)`);
}
