// A Testcontainers wait strategy that waits for nothing beyond the start itself: for containers
// nothing on the request path needs, whose readiness their first reader awaits instead. Zipkin is
// one (a JVM: about 5 s to start on the project's machine, the longest wait of a deploy);
// verify's tracing check waits for its /health (observability/zipkin.ts untilHealthy).
import type Dockerode from "dockerode";
import type { BoundPorts, WaitStrategy } from "testcontainers";

export class StartedOnlyWait implements WaitStrategy {
  private startupTimeoutMs = 60_000;
  private timeoutSet = false;

  withStartupTimeout(startupTimeoutMs: number): this {
    this.startupTimeoutMs = startupTimeoutMs;
    this.timeoutSet = true;
    return this;
  }

  isStartupTimeoutSet(): boolean {
    return this.timeoutSet;
  }

  getStartupTimeout(): number {
    return this.startupTimeoutMs;
  }

  async waitUntilReady(_container: Dockerode.Container, _boundPorts: BoundPorts, _startTime?: Date): Promise<void> {}
}
