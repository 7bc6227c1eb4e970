// `envoy-pipeline runs`: the recorded deliveries and their runs, as a table for people or as JSON
// (an array of `deliveryViewSchema`) for scripts.
import { z } from "zod";
import { printable } from "../lib/printable.ts";
import { type DeliveryView, deliveryViewSchema } from "./state.ts";

/** What `runs --json` prints on stdout. */
export const runsJsonSchema = z.array(deliveryViewSchema);
export type RunsJson = z.infer<typeof runsJsonSchema>;

function detail(d: DeliveryView): string {
  const run = d.runs.at(-1);
  const parts: string[] = [];
  if (d.supersededBy !== null) parts.push(`superseded by ${d.supersededBy}`);
  else if (run?.queueLocation) parts.push(run.queueLocation);
  else if (d.reason !== null) parts.push(d.reason);
  else if (run?.logFile) parts.push(run.logFile);
  if (d.redeliveries > 0) parts.push(`${d.redeliveries} redeliver${d.redeliveries === 1 ? "y" : "ies"} ignored`);
  return parts.join("; ");
}

function time(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function formatRunsTable(deliveries: readonly DeliveryView[]): string {
  const header = ["RECEIVED", "DELIVERY", "EVENT", "REPOSITORY", "BRANCH", "COMMIT", "OUTCOME", "RUN", "DETAIL"];
  const rows = deliveries.map((d) => {
    const run = d.runs.at(-1);
    // Branch names, refs and reasons come from payloads: escaped, so that none can forge a row.
    return [
      time(d.receivedAt),
      d.id,
      d.event,
      printable(d.repository ?? "-"),
      printable(d.branch ?? d.ref ?? "-"),
      d.commit ? d.commit.slice(0, 7) : "-",
      run?.dryRun && d.outcome === "dry-run" ? "dry-run" : d.outcome,
      d.runs.length === 0 ? "-" : d.runs.map((r) => `#${r.run}`).join(","),
      printable(detail(d)),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
