// The reaper (our testcontainers/ryuk): its design is in docs/stacks.md, "The reaper's protocol and timing".
export { parseGoDuration, type ReaperConfig, reaperConfig } from "./config.ts";
export { DockerApi, swarmList } from "./docker.ts";
export { type DockerFilters, parseFilterLine, slogLine } from "./protocol.ts";
export { affected, noResources, type Resources } from "./prune.ts";
export { type Reaper, startReaper } from "./reaper.ts";
export type { ReaperResult } from "./session.ts";
