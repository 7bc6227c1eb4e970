// Scrape targets follow scaling: waits until Prometheus' targets for each compose service are
// exactly the running replicas' addresses, each scraped successfully.
import { errorMessage } from "../lib/errors.ts";
import { pollUntil } from "../lib/poll.ts";
import type { PrometheusClient, ScrapeTarget } from "./prometheus.ts";
import { ObservabilityError } from "./types.ts";

/** Differences between Prometheus' targets of one service and the replicas' IPs (pure); empty when they agree. */
export function compareTargets(service: string, ips: readonly string[], targets: readonly ScrapeTarget[]): string[] {
  const own = targets.filter((t) => t.job === "services" && t.labels.compose_service === service);
  const problems: string[] = [];
  for (const ip of ips) {
    const t = own.find((x) => x.host === ip);
    if (!t) problems.push(`${service}: replica ${ip} is not a scrape target yet`);
    else if (t.health !== "up") problems.push(`${service}: target ${t.instance} is ${t.health}${t.lastError ? `: ${t.lastError}` : ""}`);
  }
  for (const t of own) if (!ips.includes(t.host)) problems.push(`${service}: target ${t.instance} is no running replica`);
  return problems;
}

/** Resolves with the seconds it took; rejects after `timeoutMs` with what still differs. */
export async function waitForReplicaTargets(
  prom: PrometheusClient,
  expected: Record<string, readonly string[]>,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<number> {
  const t0 = performance.now();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let problems: string[] = [];
  await pollUntil(
    async () => {
      try {
        const targets = await prom.targets(["services"]);
        problems = Object.entries(expected).flatMap(([service, ips]) => compareTargets(service, ips, targets));
      } catch (err) {
        problems = [errorMessage(err)];
      }
      return problems.length === 0 ? true : undefined;
    },
    {
      timeoutMs,
      intervalMs: opts.intervalMs ?? 250,
      timeoutError: () =>
        new ObservabilityError(`Prometheus' scrape targets did not match the replicas within ${timeoutMs} ms: ${problems.join("; ")}`),
    },
  );
  return (performance.now() - t0) / 1000;
}
