// Where a deployed stack's parts are found: the one seam between the stages and the target they run on.
// Design notes: docs/stacks.md ("stack/locator.ts").
import type { ServiceState } from "./desired-state.ts";
import type { StackDirectory } from "./directory.ts";
import type { ReplicaContainer, StackEndpoints } from "./discover.ts";

export interface StackLocator {
  /** Where the stack lives, for messages: "this Docker host", "the swarm at tcp://…". */
  where: string;
  /** Whether anything of the stack exists (a stage that needs it says so in one line otherwise). */
  exists(): Promise<boolean>;
  /** Replicas of a service that can serve, in replica order. */
  replicas(service: string): Promise<ReplicaContainer[]>;
  /** Envoy's listener and admin URLs, as reached from this host. */
  endpoints(): Promise<StackEndpoints>;
  /** The URL of `port` published by a (non-backend) service such as prometheus or zipkin. */
  publishedUrl(service: string, port: number): Promise<string>;
  /** Each service's desired replicas against what runs: serving, not serving and why, extras. */
  serviceStates(desired: Record<string, number>): Promise<ServiceState[]>;
  /** Who is behind an address or a hostname, for verdicts that name culprits. */
  directory(): Promise<StackDirectory>;
  /** What deploy or scale last set the stack's services to (undefined: never recorded). */
  appliedScale(): Promise<Record<string, number> | undefined>;
  /** Remembers what deploy or scale set the stack's services to (a no-op where the target keeps it). */
  recordScale(scale: Record<string, number>): Promise<void>;
}
