// After the test suite: fails when a test of this run (ENVOY_PIPELINE_TEST_RUN) left a compose project
// (containers, networks, volumes) behind, and removes it so the machine stays clean for the next run.
import { docker } from "../harness/docker/engine.ts";
import { teardown } from "../harness/stack/teardown.ts";
import { PROJECT_LABEL } from "../harness/stack/discover.ts";
import { thisRunPrefix } from "../test/support/names.ts";

const client = docker();
const projects = new Set<string>();
for (const c of await client.listContainers({ all: true, filters: { label: [PROJECT_LABEL] } })) {
  const project = c.Labels[PROJECT_LABEL];
  if (project?.startsWith(thisRunPrefix())) projects.add(project);
}
for (const n of await client.listNetworks({ filters: { label: [PROJECT_LABEL] } })) {
  const project = n.Labels?.[PROJECT_LABEL];
  if (project?.startsWith(thisRunPrefix())) projects.add(project);
}
if (projects.size === 0) {
  console.log("leftovers: none (no test compose project is left)");
} else {
  for (const project of projects) {
    const r = await teardown(client, project, { removeImages: true });
    console.error(`leftovers: test project ${project} was left behind: removed ${r.containers.join(", ") || "no containers"}`);
  }
  process.exitCode = 1;
}
