// build: `docker compose build` of the stack's images, tagged with the hash of their content, and
// only when one of them is missing (harness/stack/stack-images.ts).
import { ensureStackImages } from "../stack/stack-images.ts";
import type { StageContext } from "./context.ts";

export interface BuildResult {
  seconds: number;
  pulled: boolean;
}

export async function build(ctx: StageContext): Promise<BuildResult> {
  const t0 = Date.now();
  const { pulled } = await ensureStackImages(ctx);
  return { seconds: (Date.now() - t0) / 1000, pulled };
}
