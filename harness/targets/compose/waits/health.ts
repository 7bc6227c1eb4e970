// Testcontainers' health-check wait, with an error a person can act on: which container, and what
// its health check printed last. (The stock one says only "Health check failed: unhealthy", and
// compose removes the containers right after, taking the evidence with them.)
import type Dockerode from "dockerode";
import { Wait, type BoundPorts } from "testcontainers";
import { z } from "zod";
import { TimedWait } from "./timed.ts";

const healthSchema = z.object({
  Name: z.string(),
  State: z.object({
    Health: z
      .object({
        Status: z.string(),
        Log: z
          .array(z.object({ ExitCode: z.number(), Output: z.string() }))
          .nullable()
          .optional(),
      })
      .optional(),
  }),
});

export class ExplainedHealthCheckWait extends TimedWait {
  async waitUntilReady(container: Dockerode.Container, boundPorts: BoundPorts, startTime?: Date): Promise<void> {
    const inner = Wait.forHealthCheck().withStartupTimeout(this.startupTimeoutMs);
    try {
      await inner.waitUntilReady(container, boundPorts, startTime);
    } catch (err) {
      let where = container.id.slice(0, 12);
      let last = "";
      try {
        const state = healthSchema.parse(await container.inspect());
        where = state.Name.replace(/^\//, "");
        const log = state.State.Health?.Log ?? [];
        const final = log[log.length - 1];
        if (final) last = `; last check exited ${final.ExitCode}${final.Output.trim() ? `: ${final.Output.trim().slice(0, 300)}` : ""}`;
      } catch {
        // The container is already gone: the original message is all there is.
      }
      throw new Error(`container ${where}: ${(err as Error).message}${last}`);
    }
  }
}
