// How long verify may wait on Prometheus and Zipkin, derived from what it waits for instead of a flat
// timeout.
// Design notes: docs/observability.md ("observability/wait-budget.ts").
import axios from "axios";
import { z } from "zod";

export interface PrometheusIntervals {
  /** Longest scrape_interval of any job, seconds. */
  scrapeSeconds: number;
  /** Longest scrape_timeout, seconds. */
  timeoutSeconds: number;
  /** Longest dns_sd refresh_interval, seconds. */
  refreshSeconds: number;
  /** Where the figures came from: Prometheus' loaded config, or the defaults. */
  source: string;
}

export interface WaitBudget {
  /** Until every replica is an up scrape target. */
  targetsMs: number;
  /** Until every target was scraped after a given moment. */
  scrapeMs: number;
  /** Line for the progress output: how the budget was derived. */
  explain: string;
}

/** Prometheus' own defaults (scrape 1 m, timeout 10 s, DNS refresh 30 s) are not what the stack runs. */
const STACK_DEFAULTS: PrometheusIntervals = {
  scrapeSeconds: 2,
  timeoutSeconds: 2,
  refreshSeconds: 2,
  source: "prometheus/prometheus.yml's values",
};

/** "2s", "1m30s", "500ms" → seconds. */
export function durationSeconds(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let matched = "";
  for (const m of text.matchAll(re)) {
    const unit = { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as "ms" | "s" | "m" | "h"];
    total += Number(m[1]) * unit;
    matched += m[0];
  }
  return matched === text.trim() && matched !== "" ? total : undefined;
}

/** The longest value of `key` in a YAML document (pure; Prometheus renders durations like "2s"). */
export function longestDuration(yaml: string, key: string): number | undefined {
  const values = [...yaml.matchAll(new RegExp(`^\\s*${key}:\\s*"?([0-9a-z.]+)"?\\s*$`, "gm"))]
    .map((m) => durationSeconds(m[1] ?? ""))
    .filter((v): v is number => v !== undefined);
  return values.length > 0 ? Math.max(...values) : undefined;
}

const configResponse = z.object({ status: z.literal("success"), data: z.object({ yaml: z.string() }) });

/** The intervals Prometheus runs with (GET /api/v1/status/config), or the stack's defaults. */
export async function prometheusIntervals(prometheusUrl: string, timeoutMs = 2000): Promise<PrometheusIntervals> {
  try {
    const res = await axios.get(new URL("/api/v1/status/config", prometheusUrl).href, { timeout: timeoutMs, responseType: "json" });
    const yaml = configResponse.parse(res.data).data.yaml;
    return {
      scrapeSeconds: longestDuration(yaml, "scrape_interval") ?? STACK_DEFAULTS.scrapeSeconds,
      timeoutSeconds: longestDuration(yaml, "scrape_timeout") ?? STACK_DEFAULTS.timeoutSeconds,
      refreshSeconds: longestDuration(yaml, "refresh_interval") ?? STACK_DEFAULTS.refreshSeconds,
      source: "Prometheus' loaded config",
    };
  } catch {
    return STACK_DEFAULTS;
  }
}

export function prometheusBudget(p: PrometheusIntervals): WaitBudget {
  const targets = 2 * (p.refreshSeconds + p.scrapeSeconds) + p.timeoutSeconds;
  const scrape = 2 * p.scrapeSeconds + p.timeoutSeconds;
  return {
    targetsMs: Math.round(targets * 1000),
    scrapeMs: Math.round(scrape * 1000),
    explain: `DNS refresh ${p.refreshSeconds} s, scrape interval ${p.scrapeSeconds} s, scrape timeout ${p.timeoutSeconds} s (${p.source})`,
  };
}

/**
 * Until a trace is complete in Zipkin: Envoy flushes spans every tracing.zipkin.flush_interval_ms
 * (1 s in envoy/envoy.yaml), the service every 0.5 s. Three flushes of the slower one, plus 5 s for
 * Zipkin's ingest and the query on a busy machine (measured: with the machine's load average at
 * 40, Envoy's span of a healthy request once took more than 4 s to become queryable).
 */
export function tracingBudgetMs(envoyFlushMs = 1000, serviceFlushMs = 500): number {
  return 3 * Math.max(envoyFlushMs, serviceFlushMs) + 5000;
}
