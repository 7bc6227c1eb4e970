// teardown: removes this compose project's containers, networks and volumes (and, when asked,
// the images it built), found by compose's project label. Other people's containers on the same
// host are never touched: nothing here lists anything without the project filter.
import type Dockerode from "dockerode";
import { z } from "zod";
import { log } from "../log.ts";
import { PROJECT_LABEL } from "../stack/discover.ts";

export interface TeardownResult {
  seconds: number;
  containers: string[];
  networks: string[];
  volumes: string[];
  images: string[];
}

const volumeListSchema = z.object({
  Volumes: z.array(z.object({ Name: z.string() })).nullable().transform((v) => v ?? []),
});

/**
 * Docker answers 404 for something already gone (a crashed `up`), and 409 "removal ... already in
 * progress" while another teardown removes it: either way it is going, which is what we want.
 */
const isGone = (err: unknown): boolean => {
  if (typeof err !== "object" || err === null || !("statusCode" in err)) return false;
  const status = (err as { statusCode: unknown }).statusCode;
  return status === 404 || (status === 409 && /already in progress/.test(String((err as { message?: unknown }).message)));
};

async function ignoringGone(work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (err) {
    if (!isGone(err)) throw err;
  }
}

/**
 * The engine releases a removed container's network endpoint after `remove` has answered: with
 * many containers on a busy machine (20+20 replicas here) the network still had "active
 * endpoints" right after the last removal. Ask again until they are released (bounded).
 */
async function removeNetwork(docker: Dockerode, id: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await ignoringGone(() => docker.getNetwork(id).remove());
      return;
    } catch (err) {
      const busy = typeof err === "object" && err !== null && /has active endpoints/.test(String((err as { message?: unknown }).message));
      if (!busy || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export async function teardown(
  docker: Dockerode,
  project: string,
  opts: { removeImages?: boolean } = {},
): Promise<TeardownResult> {
  const t0 = Date.now();
  const filters = { label: [`${PROJECT_LABEL}=${project}`] };
  const result: TeardownResult = { seconds: 0, containers: [], networks: [], volumes: [], images: [] };

  const containers = await docker.listContainers({ all: true, filters });
  // Force-remove kills with SIGKILL; the services shut down cleanly in well under a second, so a
  // short stop first keeps their last logs and spans, without 10 s stop timeouts.
  await Promise.all(
    containers.map(async (c) => {
      const name = (c.Names[0] ?? c.Id).replace(/^\//, "");
      await ignoringGone(() => docker.getContainer(c.Id).stop({ t: 2 }).catch((err: unknown) => {
        // 304: already stopped.
        if (!(typeof err === "object" && err !== null && "statusCode" in err && (err as { statusCode: unknown }).statusCode === 304)) throw err;
      }));
      await ignoringGone(() => docker.getContainer(c.Id).remove({ force: true, v: true }));
      result.containers.push(name);
    }),
  );

  for (const n of await docker.listNetworks({ filters })) {
    await removeNetwork(docker, n.Id);
    result.networks.push(n.Name);
  }

  const volumes = volumeListSchema.parse(await docker.listVolumes({ filters }));
  for (const v of volumes.Volumes) {
    await ignoringGone(() => docker.getVolume(v.Name).remove());
    result.volumes.push(v.Name);
  }

  if (opts.removeImages) {
    // Only the images compose built for this project (tagged with it); base images are shared.
    // compose tags them with the project name (IMAGE_TAG, see harness/stack/compose.ts).
    const tag = project;
    const built = await docker.listImages({ filters: { reference: [`envoy-pipeline/*:${tag}`] } });
    for (const image of built) {
      for (const ref of (image.RepoTags ?? []).filter((t) => t.endsWith(`:${tag}`))) {
        try {
          await docker.getImage(ref).remove();
          result.images.push(ref);
        } catch (err) {
          if (!isGone(err)) log.warn(`image ${ref} kept: ${(err as Error).message.split("\n")[0]}`);
        }
      }
    }
  }
  result.seconds = (Date.now() - t0) / 1000;
  return result;
}
