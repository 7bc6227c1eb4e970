// Configured load-balancing weights (config `weights`, `--weight`), as the control plane applies
// them and as verify expects them: a container's own weight, else its service's, else 1.
import type { ReplicaContainer } from "../stack/discover.ts";

export function weightOf(weights: Readonly<Record<string, number>>, replica: { name: string; service: string }): number | undefined {
  return weights[replica.name] ?? weights[replica.service];
}

/** verify's expectation for one service: "uniform" without weights, else each replica's share by hostname. */
export function configuredWeights(
  weights: Readonly<Record<string, number>>,
  replicas: readonly ReplicaContainer[],
): "uniform" | Record<string, number> {
  if (!replicas.some((r) => weightOf(weights, r) !== undefined)) return "uniform";
  return Object.fromEntries(replicas.map((r) => [r.hostname, weightOf(weights, r) ?? 1]));
}
