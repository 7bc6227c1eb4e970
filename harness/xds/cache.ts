// The snapshot cache: the one consistent set of xDS resources the control plane serves, versioned
// per resource type (after go-control-plane's SnapshotCache). Versioning rules: docs/xds.md.
import { createHash, randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { encodeResource, resourceName, SHORT, TYPE, TYPE_URLS, type Resource, type TypeUrl } from "./protos.ts";
import { PipelineError } from "../lib/errors.ts";

export interface TypeSnapshot {
  version: string;
  /** Resources by name, in the order they were given. */
  resources: ReadonlyMap<string, Resource>;
}

export type Resources = Partial<Record<TypeUrl, readonly Resource[]>>;

export class InconsistentSnapshotError extends PipelineError {
  override name = "InconsistentSnapshotError";
}

/** Names a resource references in another type: EDS clusters of a CDS cluster, RDS names of a listener. */
function referencedNames(resources: Resources): { eds: string[]; rds: string[] } {
  const eds: string[] = [];
  for (const c of resources[TYPE.cluster] ?? []) {
    if (c.type === "EDS") {
      const config = c.eds_cluster_config as { service_name?: string } | undefined;
      eds.push(config?.service_name || resourceName(c));
    }
  }
  // RDS names sit inside the listeners' HTTP connection managers: found wherever `rds` appears.
  const rds: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const item of v) visit(item);
      return;
    }
    if (v === null || typeof v !== "object") return;
    const o = v as Record<string, unknown>;
    const r = o.rds as { route_config_name?: unknown } | undefined;
    if (r && typeof r.route_config_name === "string") rds.push(r.route_config_name);
    Object.values(o).forEach(visit);
  };
  visit(resources[TYPE.listener] ?? []);
  return { eds, rds };
}

export function checkConsistency(resources: Resources): void {
  const { eds, rds } = referencedNames(resources);
  const has = (type: TypeUrl, name: string): boolean => (resources[type] ?? []).some((r) => resourceName(r) === name);
  const missingEds = eds.filter((n) => !has(TYPE.endpoint, n));
  const missingRds = rds.filter((n) => !has(TYPE.route, n));
  const problems = [
    ...missingEds.map((n) => `CDS cluster '${n}' has no ClusterLoadAssignment`),
    ...missingRds.map((n) => `LDS names route configuration '${n}', which RDS does not have`),
  ];
  if (problems.length > 0) throw new InconsistentSnapshotError(`inconsistent snapshot: ${problems.join("; ")}`);
}

function digest(resources: readonly Resource[]): string {
  const h = createHash("sha256");
  for (const r of resources) {
    h.update(resourceName(r));
    h.update(encodeResource(r));
  }
  return h.digest("hex");
}

export interface SnapshotChange {
  /** The types whose version changed, in the order they must reach Envoy (CDS, EDS, LDS, RDS). */
  changed: TypeUrl[];
  versions: Partial<Record<TypeUrl, string>>;
}

export class SnapshotCache {
  /** New at every start: versions of an earlier run are never reused. */
  readonly boot = `${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
  private counter = 0;
  private readonly types = new Map<TypeUrl, TypeSnapshot & { digest: string }>();
  private readonly events = new EventEmitter();

  /**
   * Replaces the whole snapshot (types not given become empty), after checking it. Types whose
   * content did not change keep their version. Listeners hear which types changed.
   */
  set(resources: Resources): SnapshotChange {
    checkConsistency(resources);
    const change: SnapshotChange = { changed: [], versions: {} };
    for (const type of TYPE_URLS) {
      const list = resources[type] ?? [];
      for (const r of list) {
        if (r["@type"] !== type) throw new InconsistentSnapshotError(`a ${r["@type"]} was given as ${SHORT[type]}`);
      }
      const d = digest(list);
      const before = this.types.get(type);
      if (before?.digest === d) continue;
      const version = `${this.boot}.${++this.counter}`;
      this.types.set(type, { version, digest: d, resources: new Map(list.map((r) => [resourceName(r), r])) });
      change.changed.push(type);
      change.versions[type] = version;
    }
    if (change.changed.length > 0) this.events.emit("change", change);
    return change;
  }

  get(type: TypeUrl): TypeSnapshot | undefined {
    return this.types.get(type);
  }

  /** Where a version stands in this run's sequence; -1 for a version of another run (or none). */
  order(version: string): number {
    const dot = version.lastIndexOf(".");
    if (dot < 0 || version.slice(0, dot) !== this.boot) return -1;
    return Number(version.slice(dot + 1));
  }

  onChange(listener: (change: SnapshotChange) => void): () => void {
    this.events.on("change", listener);
    return () => this.events.off("change", listener);
  }
}
