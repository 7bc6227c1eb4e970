// The one difference between targets in Envoy's and Prometheus' configuration: the DNS name that lists a
// service's replicas.
// Design notes: docs/stacks.md ("render/dns-names.ts").
import { isMap, isScalar, isSeq, parseDocument, visit, type Document } from "yaml";
import { ModelError } from "./model.ts";

export type Rename = (name: string) => string;

function load(text: string, what: string): Document {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new ModelError(`${what}: ${doc.errors[0]?.message ?? "invalid YAML"}`);
  return doc;
}

function missing(what: string, expected: readonly string[], seen: Set<string>): void {
  const absent = expected.filter((n) => !seen.has(n));
  if (absent.length > 0) throw new ModelError(`${what}: no upstream address named ${absent.join(", ")}: the model and the file disagree`);
}

/**
 * Envoy's configuration with every `socket_address.address` that names one of `names` renamed.
 * Fails when a name is not there: a target would otherwise silently keep a name it cannot resolve.
 */
export function renameEnvoyUpstreams(text: string, names: readonly string[], rename: Rename): string {
  const doc = load(text, "envoy.yaml");
  const seen = new Set<string>();
  visit(doc, {
    Pair(_key, pair) {
      if (!isScalar(pair.key) || pair.key.value !== "socket_address" || !isMap(pair.value)) return;
      const address = pair.value.get("address", true);
      if (isScalar(address) && typeof address.value === "string" && names.includes(address.value)) {
        seen.add(address.value);
        address.value = rename(address.value);
      }
    },
  });
  missing("envoy.yaml", names, seen);
  return doc.toString();
}

/**
 * Prometheus' configuration with the DNS discovery names renamed. The `compose_service` label the
 * observability checks select on is taken from the discovered name, so it is cut back to the
 * service's own name (`tasks.service1` or `service1.ns.svc.cluster.local` → `service1`).
 */
export function renamePrometheusTargets(text: string, names: readonly string[], rename: Rename): string {
  const doc = load(text, "prometheus.yml");
  const seen = new Set<string>();
  const jobs = doc.get("scrape_configs");
  if (!isSeq(jobs)) throw new ModelError("prometheus.yml: scrape_configs is not a list");
  for (const job of jobs.items) {
    if (!isMap(job)) continue;
    const sd = job.get("dns_sd_configs");
    if (!isSeq(sd)) continue;
    for (const entry of sd.items) {
      const list = isMap(entry) ? entry.get("names") : undefined;
      if (!isSeq(list)) continue;
      for (const item of list.items) {
        if (isScalar(item) && typeof item.value === "string" && names.includes(item.value)) {
          seen.add(item.value);
          item.value = rename(item.value);
        }
      }
    }
    const relabels = job.get("relabel_configs");
    if (!isSeq(relabels)) continue;
    for (const relabel of relabels.items) {
      if (isMap(relabel) && relabel.get("target_label") === "compose_service") {
        relabel.set("regex", "(?:tasks\\.)?([^.]+).*");
        relabel.set("replacement", "$1");
      }
    }
  }
  missing("prometheus.yml", names, seen);
  return doc.toString();
}
