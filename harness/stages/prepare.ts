// prepare: a running Docker engine with compose v2, and every base image the stack builds from
// (the official ones when a registry serves them, else equivalents built from package registries).
import { ensureDockerEngine } from "../docker/engine.ts";
import { pruneBuildCache } from "../images/build-cache.ts";
import { prepareImages, type ImageSet } from "../images/index.ts";
import { log, waitingFor } from "../lib/log.ts";
import { settings } from "../settings.ts";

export interface PrepareResult {
  seconds: number;
  images: ImageSet;
}

export async function prepare(opts: { forceLocal?: boolean; provision?: boolean } = {}): Promise<PrepareResult> {
  const t0 = Date.now();
  await ensureDockerEngine({ provision: opts.provision === true });
  const images = await waitingFor("preparing base images", () =>
    prepareImages({ forceLocal: opts.forceLocal === true, log: (line) => log.info(`  ${line}`) }),
  );
  for (const [name, ref] of Object.entries(images.env)) log.info(`  ${name}=${ref}`);
  await pruneBuildCache(settings().buildCacheKeep, (line) => log.info(`  ${line}`));
  return { seconds: (Date.now() - t0) / 1000, images };
}
