// `docker build` of one local image from a context folder under .cache/images/, never pulling.
// BuildKit when the buildx plugin is there (daemon 20.10 runs it fine), else the classic builder;
// the Dockerfiles under images/ use nothing that only one of them understands.
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { mustRun, runCommand } from "../docker/exec.ts";
import type { Log } from "./downloads.ts";
import { INPUTS_LABEL } from "./versions.ts";

let buildkit: Promise<boolean> | undefined;

/** Whether `docker build` can use BuildKit here (`docker buildx version` works). */
export function useBuildKit(): Promise<boolean> {
  if (process.env.DOCKER_BUILDKIT === "0") return Promise.resolve(false);
  buildkit ??= runCommand("docker", ["buildx", "version"], { timeoutMs: 20_000 }).then(
    (r) => r.code === 0,
    () => false,
  );
  return buildkit;
}

export interface BuildRequest {
  name: string;
  tag: string;
  hash: string;
  contextDir: string;
  buildArgs: Record<string, string>;
  logsDir: string;
}

/** Step lines worth showing while a build runs (BuildKit "#7 [2/4] RUN ..." or classic "Step 2/9 : ..."). */
export function isStepLine(line: string): boolean {
  return /^#\d+ \[[^\]]*\d+\/\d+\]/.test(line) || /^Step \d+\/\d+ :/.test(line);
}

export async function dockerBuild(req: BuildRequest, log: Log): Promise<void> {
  const bk = await useBuildKit();
  mkdirSync(req.logsDir, { recursive: true });
  const logFile = join(req.logsDir, `${req.name}-${req.hash.slice(0, 12)}.log`);
  const out = createWriteStream(logFile);
  const args = [
    "build",
    "--pull=false",
    ...(bk ? ["--progress=plain"] : []),
    "--label",
    `${INPUTS_LABEL}=${req.hash}`,
    "--label",
    `org.opencontainers.image.title=envoy-pipeline/${req.name}`,
    ...Object.entries(req.buildArgs).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]),
    "-t",
    req.tag,
    req.contextDir,
  ];
  const seen = new Set<string>();
  try {
    await mustRun("docker", args, {
      env: { ...process.env, DOCKER_BUILDKIT: bk ? "1" : "0" },
      onLine: (line) => {
        out.write(`${line}\n`);
        // BuildKit repeats a step's header when it resumes printing it; show each once.
        if (isStepLine(line)) {
          const step = line.replace(/^#\d+ /, "");
          if (!seen.has(step)) {
            seen.add(step);
            log(`${req.name}: ${step.length > 140 ? `${step.slice(0, 137)}...` : step}`);
          }
        }
      },
      what: `docker build of ${req.tag} (full log: ${logFile})`,
    });
  } finally {
    out.end();
  }
}
