// What a compose stack was last scaled to, kept with the stack in Docker (a marker volume's label), so
// that a later `verify` checks the stack against what was applied, not the config's default.
// Design notes: docs/stacks.md ("targets/compose/applied-scale.ts").
import type Dockerode from "dockerode";
import { z } from "zod";
import { parseScale } from "../../config.ts";
import { PROJECT_LABEL } from "../../stack/discover.ts";

export const APPLIED_SCALE_LABEL = "envoy-pipeline.applied-scale";

const markerName = (project: string): string => `${project}_applied-scale`;

const statusOf = (err: unknown): unknown =>
  typeof err === "object" && err !== null && "statusCode" in err ? (err as { statusCode: unknown }).statusCode : undefined;

/** Records `scale` as what the compose project's stack is now scaled to. */
export async function recordAppliedScale(docker: Dockerode, project: string, scale: Record<string, number>): Promise<void> {
  const name = markerName(project);
  try {
    await docker.getVolume(name).remove();
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
  const value = Object.entries(scale)
    .map(([s, n]) => `${s}=${n}`)
    .join(",");
  await docker.createVolume({ Name: name, Labels: { [PROJECT_LABEL]: project, [APPLIED_SCALE_LABEL]: value } });
}

const markerSchema = z.object({ Labels: z.record(z.string(), z.string()).nullable().optional() });

/** The scale last recorded for the project's stack; undefined when none was. */
export async function appliedScale(docker: Dockerode, project: string): Promise<Record<string, number> | undefined> {
  let inspected: unknown;
  try {
    inspected = await docker.getVolume(markerName(project)).inspect();
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
  const value = markerSchema.parse(inspected).Labels?.[APPLIED_SCALE_LABEL];
  return value ? parseScale(value) : undefined;
}
