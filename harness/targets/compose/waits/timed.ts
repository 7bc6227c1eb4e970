// The startup-timeout bookkeeping every Testcontainers wait strategy carries (the library's own
// base class is not exported); our strategies add only `waitUntilReady`.
import type Dockerode from "dockerode";
import type { BoundPorts, WaitStrategy } from "testcontainers";

export abstract class TimedWait implements WaitStrategy {
  protected startupTimeoutMs = 60_000;
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

  abstract waitUntilReady(container: Dockerode.Container, boundPorts: BoundPorts, startTime?: Date): Promise<void>;
}
