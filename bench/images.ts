// Do images pile up? Runs the whole pipeline K times (each its own process, as a CI job would) and
// prints, before, after each run and at the end: the images on the host, those of the stack's own
// builds (envoy-pipeline/service|front-envoy|stack-prometheus with a content tag), the images
// compose built for these runs still on the host ("ours": tagged or dangling), dangling images,
// and the build cache (`docker system df`).
//
//   npm run bench:images -- --runs 20            (default 3; a smaller stack: 2+2 replicas)
//   npm run bench:images -- --runs 5 --full      (the default scale 3+3 and sample size)
//
// On a shared host other people's images come and go: the "stack" column is the one to read.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { docker, requireDockerEngine } from "../harness/docker/engine.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "3" }, full: { type: "boolean", default: false } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write(`bench:images: --runs must be a whole number >= 1, got '${values.runs}'\n`);
  process.exit(2);
}

const STACK_IMAGE = /^envoy-pipeline\/(service|front-envoy|stack-prometheus):[0-9a-f]{12}$/;
const dfLine = z.object({ Type: z.string(), TotalCount: z.string(), Size: z.string(), Reclaimable: z.string() });

interface Census {
  images: number;
  stack: number;
  /** Images (tagged or dangling) compose built for this bench's runs (project label bench-images-<pid>-*). */
  ours: number;
  dangling: number;
  buildCache: string;
}

/** Each run's project: `bench-images-<pid>-<i>`, so its images can be told from anyone else's. */
const projectPrefix = `bench-images-${process.pid}-`;

async function census(): Promise<Census> {
  const all = await docker().listImages({ all: false });
  const df = spawnSync("docker", ["system", "df", "--format", "{{json .}}"], { encoding: "utf8" });
  const cache = df.stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => dfLine.parse(JSON.parse(l)))
    .find((l) => l.Type === "Build Cache");
  const labelled = await docker().listImages({ all: false, filters: { label: ["com.docker.compose.project"] } });
  return {
    images: all.length,
    ours: labelled.filter((i) => (i.Labels?.["com.docker.compose.project"] ?? "").startsWith(projectPrefix)).length,
    stack: all.flatMap((i) => i.RepoTags ?? []).filter((t) => STACK_IMAGE.test(t)).length,
    dangling: all.filter((i) => (i.RepoTags ?? []).every((t) => t === "<none>:<none>")).length,
    buildCache: cache ? `${cache.Size} (${cache.TotalCount} entries)` : "?",
  };
}

const row = (label: string, c: Census, extra = ""): string =>
  `${label.padEnd(10)} ${String(c.images).padStart(6)} ${String(c.stack).padStart(6)} ${String(c.ours).padStart(5)} ${String(c.dangling).padStart(8)}  ${c.buildCache.padEnd(24)} ${extra}`;

await requireDockerEngine();
const reports = mkdtempSync(join(tmpdir(), "ept-bench-images-"));
const df = (): string => spawnSync("docker", ["system", "df"], { encoding: "utf8" }).stdout;
process.stdout.write(`docker system df before:\n${df()}\n`);
process.stdout.write(
  `${"run".padEnd(10)} ${"images".padStart(6)} ${"stack".padStart(6)} ${"ours".padStart(5)} ${"dangling".padStart(8)}  ${"build cache".padEnd(24)} result\n`,
);
process.stdout.write(`${row("before", await census())}\n`);
const small = values.full ? [] : ["--scale", "service1=2,service2=2", "--requests", "300"];
try {
  for (let i = 1; i <= runs; i++) {
    const t0 = Date.now();
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", "harness/cli.ts", "pipeline", "--project", `${projectPrefix}${i}`, "--report-dir", reports, ...small],
      {
        encoding: "utf8",
        env: { ...process.env, BUILD_TAG: "" },
        stdio: ["ignore", "pipe", "pipe"],
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const reason = /reason: (.*)/.exec(r.stdout)?.[1]?.slice(0, 120) ?? "";
    const result = `${r.status === 0 ? "PASSED" : `FAILED (exit ${r.status}): ${reason}`} in ${((Date.now() - t0) / 1000).toFixed(0)} s`;
    process.stdout.write(`${row(`run ${i}`, await census(), result)}\n`);
  }
} finally {
  rmSync(reports, { recursive: true, force: true });
}
process.stdout.write(`\ndocker system df after ${runs} runs:\n${df()}`);
