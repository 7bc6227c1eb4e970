// The running replicas of a compose service, as the verifier's input wants them. Docker is the
// source of truth: containers labelled com.docker.compose.project=<project> and
// com.docker.compose.service=<service>, state running, with Config.Hostname (what the service
// answers in `hostname`) and the address on the project's network. The lookup and the zod parsing
// of `docker inspect` live in harness/stack/discover.ts (shared with the scale stage); this only
// narrows its answer to ReplicaInfo.
import type Dockerode from "dockerode";
import { runningReplicas } from "../stack/discover.ts";
import type { ReplicaInfo } from "./schema.ts";

export async function replicasFromDocker(docker: Dockerode, project: string, service: string): Promise<ReplicaInfo[]> {
  const found = await runningReplicas(docker, project, service);
  return found.map((r) => ({ name: r.name, hostname: r.hostname, ip: r.ip }));
}
