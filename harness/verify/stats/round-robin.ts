// Envoy's per-worker round robin: the deterministic bound on how far a replica's count may lie.
import { alternatives } from "./chi-square.ts";

/**
 * How far one replica's count may lie from its share under Envoy's round robin, per worker, for a
 * replica that is one of Envoy's hosts (see roundRobinGroupSlackPerWorker for an address Envoy
 * lists more than once).
 *
 * Derivation (Envoy 1.40 source: load_balancing_policies/round_robin/round_robin_lb.h and
 * common/load_balancer_impl.cc). Every worker thread owns its own load balancer; the balancers do
 * not coordinate, and each starts at a random offset (`seed_`).
 *
 *  - Equal weights: a worker picks hosts_to_use[(seed + k) mod N] for its k-th pick. If worker w
 *    makes m_w picks, replica i gets floor(m_w/N) or ceil(m_w/N) of them, i.e.
 *    m_w/N + e_{w,i} with e_{w,i} in (−1, 1). Summed over the W workers that carried traffic,
 *    c_i − n/N = Σ_w e_{w,i}, so |c_i − n/N| < W — whatever the offsets, whatever n mod N.
 *  - Unequal weights: Envoy switches to an EDF schedule where replica i's deadlines form the
 *    arithmetic progression o_i + k/w_i, so in any window of m picks replica i is picked
 *    m·p_i' + δ_i times, δ_i in (−1, 1], p_i' = w_i/Σw. Since Σ_j δ_j must absorb the rounding,
 *    c_i − m·p_i = (1 − p_i)·δ_i − p_i·Σ_{j≠i} δ_j, hence |c_i − m·p_i| < 1 + p_i·(N − 2).
 *
 * Returns that per-worker slack (1 for equal weights).
 */
export function roundRobinSlackPerWorker(p: number, replicas: number, weighted: boolean): number {
  if (!weighted) return 1;
  return 1 + p * Math.max(0, replicas - 2);
}

/**
 * The same for a replica that is k of Envoy's H hosts (an address listed k times), share p.
 * Equal weights: k of H consecutive positions in the rotation, so a partial cycle of r < H picks
 * holds between max(0, r − (H − k)) and min(r, k) of them: the deviation stays below
 * min(k, H − k) (and 1 for k = 1). Unequal weights: summing the EDF argument over the k hosts,
 * |c − m·p| < k·(1 − p) + p·(H − k).
 */
export function roundRobinGroupSlackPerWorker(p: number, k: number, totalHosts: number, weighted: boolean): number {
  if (k <= 1) return roundRobinSlackPerWorker(p, totalHosts, weighted);
  if (!weighted) return Math.max(1, Math.min(k, totalHosts - k));
  return k * (1 - p) + p * Math.max(0, totalHosts - k);
}

export interface RoundRobinBoundInput {
  /** Observed counts per replica (responses that named the replica). */
  counts: readonly number[];
  /** Expected share per replica (1/N, or w_i/Σw). */
  probs: readonly number[];
  weighted: boolean;
  /** Worker threads that carried this traffic (≤ min(Envoy concurrency, connections)). */
  workers: number;
  /** Envoy's upstream_rq_retry for the cluster during the load: each retry is an extra pick. */
  retries: number;
  /** Requests that got no replica's answer (each may still have consumed a pick). */
  unattributed: number;
  /** Picks made for traffic the harness did not send (from Envoy's counters). */
  foreign: number;
  /** Host-set changes during the load (membership changes, health flips): each restarts the sequence. */
  hostSetChanges: number;
  /** How many of Envoy's hosts each replica is (default 1 each). */
  endpoints?: readonly number[];
}

export interface RoundRobinBoundResult {
  passed: boolean;
  /** Allowed |count − expected| per replica. */
  bounds: number[];
  deviations: number[];
  /** Index of the replica furthest beyond its bound (or furthest from its share when all pass). */
  worst: number;
}

/**
 * |c_i − n·p_i| ≤ W·s_i·(1 + H) + R + U + F, where n counts attributed answers, W workers,
 * s_i the per-worker slack above, H host-set changes (each one starts a new round-robin segment
 * per worker, adding at most one more s_i per worker), R retries, U unattributed answers and F
 * foreign picks. A retry or a lost answer removes one pick from some replica's count and can add
 * one to another's, so each moves any single replica by at most one.
 */
export function roundRobinBound(input: RoundRobinBoundInput): RoundRobinBoundResult {
  const n = input.counts.reduce((s, c) => s + c, 0);
  const N = input.counts.length;
  const extra = input.retries + input.unattributed + input.foreign;
  const totalHosts = input.endpoints ? input.endpoints.reduce((s, k) => s + k, 0) : N;
  const bounds = input.probs.map(
    (p, i) =>
      input.workers * roundRobinGroupSlackPerWorker(p, input.endpoints?.[i] ?? 1, totalHosts, input.weighted) * (1 + input.hostSetChanges) +
      extra,
  );
  const deviations = input.counts.map((c, i) => c - n * input.probs[i]!);
  let worst = 0;
  let worstScore = -Infinity;
  let passed = true;
  for (let i = 0; i < N; i++) {
    const score = Math.abs(deviations[i]!) - bounds[i]!;
    if (score > 0) passed = false;
    if (score > worstScore) {
      worstScore = score;
      worst = i;
    }
  }
  return { passed, bounds, deviations, worst };
}

/**
 * Whether a replica running at `factor` times its weight would break the round-robin bound at n
 * requests: its expected deviation n·|p1 − p0| must exceed the bound. Deterministic, so the
 * "power" is 1 or 0.
 */
export function roundRobinDetects(
  n: number,
  p0: readonly number[],
  bound: (index: number) => number,
  factors: readonly number[] = [0.5, 2],
): boolean {
  for (const alt of alternatives(p0, factors)) {
    if (n * Math.abs(alt.probs[alt.index]! - p0[alt.index]!) <= bound(alt.index)) return false;
  }
  return true;
}
