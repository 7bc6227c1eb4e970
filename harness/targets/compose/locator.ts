// The compose target's StackLocator (harness/stack/locator.ts): one engine, containers found by the
// compose project's labels.
import type Dockerode from "dockerode";
import { serviceStates } from "../../stack/desired-state.ts";
import { stackDirectory } from "../../stack/directory.ts";
import { publishedUrl, runningReplicas, stackEndpoints } from "../../stack/discover.ts";
import type { StackLocator } from "../../stack/locator.ts";
import { stackExists } from "../../stack/stacks.ts";
import { appliedScale, recordAppliedScale } from "./applied-scale.ts";

/** The compose target: one engine, containers found by the project's labels. */
export function composeLocator(docker: Dockerode, project: string): StackLocator {
  return {
    where: "this Docker host",
    exists: () => stackExists(docker, project),
    replicas: (service) => runningReplicas(docker, project, service),
    endpoints: () => stackEndpoints(docker, project),
    publishedUrl: (service, port) => publishedUrl(docker, project, service, port),
    serviceStates: (desired) => serviceStates(docker, project, desired),
    directory: () => stackDirectory(docker, project),
    appliedScale: () => appliedScale(docker, project),
    recordScale: (scale) => recordAppliedScale(docker, project, scale),
  };
}
