// Which replica answered, in Envoy's words rather than the service's: the address Envoy names in
// its identity header (harness/render/envoy-config.ts), mapped to a container through Docker.
// Where the service names itself too (the demo's `hostname`), the two must agree.
import type { StackDirectory } from "./directory.ts";

export type ReplicaIdentity =
  | { ok: true; container: string; address: string }
  | { ok: false; address: string | undefined; problem: string };

/**
 * `address` is the identity header's value (ip:port; absent on Envoy's own replies), `selfName`
 * the hostname the service reported, when it reports one.
 */
export function identifyReplica(dir: StackDirectory, service: string, address: string | undefined, selfName?: string): ReplicaIdentity {
  if (address === undefined || address === "")
    return { ok: false, address, problem: "Envoy named no upstream (its own reply, or no identity header)" };
  const member = dir.byIp(address.replace(/:\d+$/, ""));
  if (!member) return { ok: false, address, problem: `Envoy sent it to ${dir.describeIp(address)}` };
  if (member.service !== service) {
    return {
      ok: false,
      address,
      problem: `Envoy sent it to ${dir.describeIp(address)}, which is ${member.service ? `service ${member.service}` : "in no compose service"}, not ${service}`,
    };
  }
  if (selfName !== undefined && selfName !== member.hostname) {
    return { ok: false, address, problem: `the reply says hostname '${selfName}', but Envoy sent it to ${dir.describeIp(address)}` };
  }
  return { ok: true, container: member.container, address };
}
