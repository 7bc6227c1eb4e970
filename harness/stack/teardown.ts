// Removes a compose project's containers, networks and volumes, found by compose's project label, and the
// tags of the images compose built for them when nothing else uses them (every target.
// Design notes: docs/stacks.md ("stack/teardown.ts").
import type Dockerode from "dockerode";
import { z } from "zod";
import { log } from "../lib/log.ts";
import { PROJECT_LABEL } from "./discover.ts";

export interface TeardownResult {
  seconds: number;
  /** Services the target removed besides (a swarm's, `docker stack rm`). */
  services?: string[];
  containers: string[];
  networks: string[];
  volumes: string[];
  /** Image tags removed. */
  images: string[];
  /** Image tags kept because another container still uses them. */
  imagesInUse: string[];
}

const imageInspectSchema = z.object({
  RepoTags: z.array(z.string()).nullable().optional(),
  Config: z
    .object({ Labels: z.record(z.string(), z.string()).nullable().optional() })
    .nullable()
    .optional(),
});

const volumeListSchema = z.object({
  Volumes: z
    .array(z.object({ Name: z.string() }))
    .nullable()
    .transform((v) => v ?? []),
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

/**
 * Removes the compose project's containers, networks and volumes, found by its label.
 * `opts.removeImages` is accepted for compatibility: the stack's image tags are removed anyway
 * when nothing else uses them (content tags are rebuilt from the build cache in a second).
 */
export async function teardown(docker: Dockerode, project: string, _opts: { removeImages?: boolean } = {}): Promise<TeardownResult> {
  const t0 = Date.now();
  const filters = { label: [`${PROJECT_LABEL}=${project}`] };
  const result: TeardownResult = { seconds: 0, containers: [], networks: [], volumes: [], images: [], imagesInUse: [] };

  const containers = await docker.listContainers({ all: true, filters });
  const usedImages = new Set(containers.map((c) => c.ImageID));
  // Force-remove kills with SIGKILL; the services shut down cleanly in well under a second, so a
  // short stop first keeps their last logs and spans, without 10 s stop timeouts.
  await Promise.all(
    containers.map(async (c) => {
      const name = (c.Names[0] ?? c.Id).replace(/^\//, "");
      await ignoringGone(() =>
        docker
          .getContainer(c.Id)
          .stop({ t: 2 })
          .catch((err: unknown) => {
            // 304: already stopped.
            if (!(typeof err === "object" && err !== null && "statusCode" in err && (err as { statusCode: unknown }).statusCode === 304))
              throw err;
          }),
      );
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

  // The image tags: those of the images the stack's containers ran, and those this project built
  // (compose labels what it builds with the project), when compose built them: base images are
  // shared and stay. A tag still used by another container (another stack of the same commit)
  // stays as well: Docker refuses to remove it (409), which is the check we want.
  const projectImages = await docker.listImages({ filters: { label: [`${PROJECT_LABEL}=${project}`] } });
  const candidates = new Set([...usedImages, ...projectImages.map((i) => i.Id)]);
  for (const id of candidates) {
    let info: z.infer<typeof imageInspectSchema>;
    try {
      info = imageInspectSchema.parse(await docker.getImage(id).inspect());
    } catch (err) {
      if (isGone(err)) continue;
      throw err;
    }
    const builtFor = info.Config?.Labels?.[PROJECT_LABEL];
    if (builtFor === undefined) continue;
    // Services sharing one build (service1, service2) give compose two images for one tag: the
    // first loses the tag and dangles. Untagged and built for this project: remove it by id.
    const refs = (info.RepoTags ?? []).length > 0 ? (info.RepoTags ?? []) : builtFor === project ? [id] : [];
    for (const ref of refs) {
      try {
        await docker.getImage(ref).remove();
        result.images.push(ref);
      } catch (err) {
        const status = (err as { statusCode?: unknown }).statusCode;
        if (status === 409) result.imagesInUse.push(ref);
        else if (!isGone(err)) log.warn(`image ${ref} kept: ${(err as Error).message.split("\n")[0]}`);
      }
    }
  }
  result.seconds = (Date.now() - t0) / 1000;
  return result;
}
