// A Testcontainers wait strategy that waits for nothing beyond the start itself: for containers nothing on
// the request path needs, whose readiness their first reader awaits instead.
// Design notes: docs/stacks.md ("targets/compose/waits/started.ts").
import type Dockerode from "dockerode";
import type { BoundPorts } from "testcontainers";
import { TimedWait } from "./timed.ts";

export class StartedOnlyWait extends TimedWait {
  async waitUntilReady(_container: Dockerode.Container, _boundPorts: BoundPorts, _startTime?: Date): Promise<void> {}
}
