// Shared wording of the checks' verdicts.
import type { ReplicaInfo } from "../schema.ts";

export const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** "container stack-service1-2 (hostname 3f2a9c1d0b7e, 172.20.0.5)": what a person looks for. */
export function describeReplica(r: ReplicaInfo): string {
  const address = r.port ? `${r.ip}:${r.port}` : r.ip;
  return r.name === r.hostname ? `${r.hostname} (${address})` : `container ${r.name} (hostname ${r.hostname}, ${address})`;
}

export function top<T>(items: T[], n = 5): { shown: T[]; more: number } {
  return { shown: items.slice(0, n), more: Math.max(0, items.length - n) };
}
