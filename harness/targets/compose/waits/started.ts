// A Testcontainers wait strategy that waits for nothing beyond the start itself: for containers
// nothing on the request path needs, whose readiness their first reader awaits instead. Zipkin is
// one (a JVM: about 5 s to start on the project's machine, the longest wait of a deploy);
// verify's tracing check waits for its /health (observability/zipkin.ts untilHealthy).
import type Dockerode from "dockerode";
import type { BoundPorts } from "testcontainers";
import { TimedWait } from "./timed.ts";

export class StartedOnlyWait extends TimedWait {
  async waitUntilReady(_container: Dockerode.Container, _boundPorts: BoundPorts, _startTime?: Date): Promise<void> {}
}
