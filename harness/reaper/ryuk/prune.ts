// What the filters match and its removal, in Ryuk's order plus swarm services and configs first
// and last (docs/stacks.md, "The reaper's protocol and timing").
import { asArray, type DockerApi, errorText, field, swarmList } from "./docker.ts";
import type { DockerFilters, Log } from "./protocol.ts";

const RYUK_LABEL = "org.testcontainers.ryuk";

/** What a prune would remove (ids; volume names), in the order it removes them. */
export interface Resources {
  services: string[];
  containers: string[];
  networks: string[];
  volumes: string[];
  configs: string[];
  images: string[];
}

/** Nothing: what a prune starts from. */
export const noResources = (): Resources => ({ services: [], containers: [], networks: [], volumes: [], configs: [], images: [] });

/** Docker's Created: unix seconds (containers, images) or an RFC 3339 string (networks, volumes). */
const createdMs = (v: unknown): number => (typeof v === "number" ? v * 1000 : typeof v === "string" ? Date.parse(v) : Number.NaN);

/**
 * What the filters match, and how many matches were created after `sinceMs` (work still landing:
 * the caller waits and looks again rather than removing half of it).
 */
export async function affected(
  api: DockerApi,
  filterSets: DockerFilters[],
  sinceMs: number,
): Promise<{ resources: Resources; changed: string[] }> {
  const resources = noResources();
  const changed: string[] = [];
  const take = (kind: keyof Resources, id: unknown, created: unknown, landing = true): void => {
    if (typeof id !== "string" || resources[kind].includes(id)) return;
    if (landing && createdMs(created) > sinceMs) changed.push(`${kind.slice(0, -1)} ${id.slice(0, 12)}`);
    else resources[kind].push(id);
  };
  const services = new Set<unknown>();
  for (const filters of filterSets) {
    // Services and configs carry CreatedAt (RFC 3339); null: not a swarm manager, nothing to add.
    for (const s of (await swarmList(api, "/services", filters)) ?? []) {
      services.add(field(s, "ID"));
      take("services", field(s, "ID"), field(s, "CreatedAt"));
    }
    for (const c of (await swarmList(api, "/configs", filters)) ?? []) take("configs", field(c, "ID"), field(c, "CreatedAt"));
    for (const c of asArray(await api.list("/containers/json", filters, "&all=true"))) {
      const labels = field(c, "Labels");
      if (field(labels, RYUK_LABEL) === "true") continue;
      // A task container of a matched service is swarm's work, not the client's: a task that
      // restarts (a failing health check) would otherwise put the prune off for ever.
      const ofService = services.has(field(labels, "com.docker.swarm.service.id"));
      take("containers", field(c, "Id"), field(c, "Created"), !ofService);
    }
    for (const n of asArray(await api.list("/networks", filters))) take("networks", field(n, "Id"), field(n, "Created"));
    for (const v of asArray(field(await api.list("/volumes", filters), "Volumes")))
      take("volumes", field(v, "Name"), field(v, "CreatedAt"));
    for (const i of asArray(await api.list("/images/json", filters))) take("images", field(i, "Id"), field(i, "Created"));
  }
  return { resources, changed };
}

/** Deletes each id, retrying failures `retries` times a second apart; returns how many are left. */
async function remove(
  api: DockerApi,
  log: Log,
  retries: number,
  kind: string,
  ids: string[],
  path: (id: string) => string,
): Promise<number> {
  let todo = [...ids];
  for (let attempt = 1; attempt <= retries && todo.length > 0; attempt++) {
    const failed: string[] = [];
    for (const id of todo) {
      try {
        const r = await api.call("DELETE", path(id));
        if (r.status >= 300 && r.status !== 404) throw new Error(`${r.status} ${errorText(r.body)}`);
      } catch (err) {
        log("ERROR", "remove", { resource: kind, id, attempt, error: (err as Error).message });
        failed.push(id);
      }
    }
    todo = failed;
    if (todo.length > 0 && attempt < retries) await new Promise((r) => setTimeout(r, 1000));
  }
  return todo.length;
}

/** Removes everything in `r`, services first and images last; returns how many could not be removed. */
export async function prune(api: DockerApi, log: Log, retries: number, r: Resources): Promise<number> {
  const rm = (kind: string, ids: string[], path: (id: string) => string): Promise<number> => remove(api, log, retries, kind, ids, path);
  let left = 0;
  left += await rm("service", r.services, (id) => `/services/${id}`);
  left += await rm("container", r.containers, (id) => `/containers/${id}?force=true&v=true`);
  left += await rm("network", r.networks, (id) => `/networks/${id}`);
  left += await rm("volume", r.volumes, (id) => `/volumes/${encodeURIComponent(id)}?force=true`);
  left += await rm("config", r.configs, (id) => `/configs/${id}`);
  left += await rm("image", r.images, (id) => `/images/${id}?noprune=false`);
  log(left > 0 ? "WARN" : "INFO", "removed", {
    ...(r.services.length + r.configs.length > 0 ? { services: r.services.length, configs: r.configs.length } : {}),
    containers: r.containers.length,
    networks: r.networks.length,
    volumes: r.volumes.length,
    images: r.images.length,
    ...(left > 0 ? { left } : {}),
  });
  return left;
}
