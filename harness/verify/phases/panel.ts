// Phase "panel": Prometheus' view of the load-balancing load for the report. It decides nothing.
import { attempt } from "../../lib/attempt.ts";
import { log } from "../../lib/log.ts";
import type { PrometheusClient } from "../../observability/index.ts";
import { type ObservabilityPanel, observabilityPanelOrNull, panelScopeSince } from "../../observability/report.ts";

/**
 * From the last scrape before the load to the scrape the metrics probe waited for after it, so the
 * probe's own requests stay out.
 */
export async function loadPanel(
  prometheus: PrometheusClient,
  loadStartedAt: Date,
  scrapedAfter: number,
  services: string[],
): Promise<ObservabilityPanel | null> {
  const warn = (reason: string): void => log.warn(`no Prometheus panel in the report: ${reason}`);
  const last = await attempt(() => prometheus.query(`timestamp(up{job=~"envoy|services"})`, loadStartedAt));
  if (!last.ok || last.value.length === 0) {
    warn(last.ok ? "no scrape before the load" : last.error);
    return null;
  }
  const before = Math.max(...last.value.map((s) => s.value * 1000));
  return observabilityPanelOrNull(prometheus, { ...panelScopeSince(before, scrapedAfter), services }, warn);
}
