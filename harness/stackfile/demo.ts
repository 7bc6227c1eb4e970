// The seed's own stack as a stack file would describe it: service1 and service2 of this
// repository's docker-compose.yml at /service/1 and /service/2. It goes through the same checks
// as a team's file (load.ts), so the demo cannot drift from what a team may write.
import { repoRoot } from "../lib/paths.ts";
import type { StackFile } from "./schema.ts";

export const DEMO_SOURCE = "built-in demo stack";

const demoService = (n: number) => ({
  route: `/service/${n}`,
  port: 8080,
  health: "/healthz",
  replicas: 3,
  // The services' contract (services/README.md): a JSON body with success true.
  expect: { status: 200, body: '"success":true' },
  metrics: "/metrics",
  propagatesTrace: true,
});

export function demoStackFile(): StackFile {
  return { compose: "docker-compose.yml", services: { service1: demoService(1), service2: demoService(2) } };
}
demoStackFile.baseDir = repoRoot;
