// Prints each container's CPU (and the engine's, and the machine's) over a window, for a stack that
// is already running: the idle cost of a deployed stack, or the cost under a load run elsewhere.
//
//   node --import tsx bench/stack-cpu.ts --project <compose project> [--seconds 30]
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { docker } from "../harness/docker/engine.ts";
import { cpuDelta, cpuSnapshot, formatUsage } from "./cpu.ts";

const { values } = parseArgs({ options: { project: { type: "string" }, seconds: { type: "string", default: "30" } } });
const seconds = Number(values.seconds);
if (!values.project || !(seconds > 0)) {
  process.stderr.write("usage: bench/stack-cpu.ts --project <name> [--seconds 30]\n");
  process.exit(2);
}
const before = await cpuSnapshot(docker(), values.project);
await sleep(seconds * 1000);
const usage = cpuDelta(before, await cpuSnapshot(docker(), values.project));
console.log(`CPU of project ${values.project} over ${usage.seconds.toFixed(1)} s:`);
console.log(formatUsage(usage));
