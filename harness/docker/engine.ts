// A usable Docker engine: the daemon answers, `docker compose` is v2, and (for local base images)
// debootstrap is there. On a Debian host where we are root, whatever is missing is installed and
// the daemon started; anywhere else the error says exactly what to install or start.
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { PipelineError } from "../lib/errors.ts";
import { log, waitingFor } from "../lib/log.ts";
import { pollUntil } from "../lib/poll.ts";
import { type ProcessSettings, settings } from "../settings.ts";
import { pidAlive } from "../lib/process.ts";
import { commandExists, lastLines, mustRun } from "./exec.ts";
import {
  DOCKERD_LOG,
  engineHelp,
  engineProblems,
  isComposeV2,
  isDebianLike,
  probeDaemon,
  probeEngine,
  readOsRelease,
  type EngineState,
} from "./probe.ts";

const DOCKERD_PIDFILE = "/var/run/docker.pid";
/** Where Debian's trixie compose v2 and buildx packages come from when the host has neither. */
export const TRIXIE_SOURCE = {
  uri: "http://deb.debian.org/debian",
  suite: "trixie",
  keyring: "/usr/share/keyrings/debian-archive-keyring.gpg",
  packages: ["docker-compose", "docker-buildx"],
} as const;

let client: Docker | undefined;

/** The process-wide dockerode client (DOCKER_HOST or /var/run/docker.sock). */
export function docker(): Docker {
  client ??= new Docker();
  return client;
}

// ---------------------------------------------------------------------------------------------
// Provisioning (root on Debian)

const apt = {
  updated: false,
  env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  async update(): Promise<void> {
    if (this.updated) return;
    await waitingFor("apt-get update", () => mustRun("apt-get", ["update"], { env: this.env }));
    this.updated = true;
  },
  async install(packages: string[]): Promise<void> {
    await this.update();
    await waitingFor(`apt-get install -y ${packages.join(" ")}`, () =>
      mustRun("apt-get", ["install", "-y", ...packages], { env: this.env }),
    );
  },
};

/** Downloads compose v2 and buildx from Debian trixie into a temporary folder and installs them (root). */
export async function installTrixieComposeAndBuildx(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "envoy-pipeline-trixie-"));
  try {
    const sources = join(work, "trixie.sources");
    writeFileSync(
      sources,
      `Types: deb\nURIs: ${TRIXIE_SOURCE.uri}\nSuites: ${TRIXIE_SOURCE.suite}\nComponents: main\nSigned-By: ${TRIXIE_SOURCE.keyring}\n`,
    );
    for (const d of ["lists/partial", "cache/archives/partial"]) await mustRun("mkdir", ["-p", join(work, d)]);
    const aptOpts = [
      "-o",
      `Dir::Etc::SourceList=${sources}`,
      "-o",
      "Dir::Etc::SourceParts=/dev/null",
      "-o",
      `Dir::State::Lists=${join(work, "lists")}`,
      "-o",
      `Dir::Cache=${join(work, "cache")}`,
      // The private folders are root's (mkdtemp, 0700): download as root rather than as _apt.
      "-o",
      "APT::Sandbox::User=root",
    ];
    await waitingFor("reading Debian trixie's package lists (for compose v2 and buildx)", () =>
      mustRun("apt-get", [...aptOpts, "update"], { env: apt.env }),
    );
    await mustRun("apt-get", [...aptOpts, "download", ...TRIXIE_SOURCE.packages], { cwd: work, env: apt.env });
    const debs = readdirSync(work)
      .filter((f) => f.endsWith(".deb"))
      .map((f) => join(work, f));
    if (debs.length !== TRIXIE_SOURCE.packages.length) {
      throw new Error(
        [
          `apt-get download ${TRIXIE_SOURCE.packages.join(" ")} gave ${debs.length} .deb files in ${work},`,
          `expected ${TRIXIE_SOURCE.packages.length}`,
        ].join(" "),
      );
    }
    await waitingFor(`dpkg -i ${debs.map((d) => d.slice(work.length + 1)).join(" ")}`, () =>
      mustRun("dpkg", ["-i", ...debs], { env: apt.env }),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Makes sure host commands exist (for example `debootstrap`, `mvn`): as root on Debian, installs
 * the missing ones' packages with apt-get; elsewhere throws an Error naming the packages.
 */
export async function ensureHostCommands(needs: ReadonlyArray<{ command: string; aptPackage: string; why: string }>): Promise<void> {
  const missing: Array<{ command: string; aptPackage: string; why: string }> = [];
  for (const need of needs) if (!(await commandExists(need.command))) missing.push(need);
  if (missing.length === 0) return;
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  const packages = [...new Set(missing.map((m) => m.aptPackage))];
  if (!root || !isDebianLike(readOsRelease())) {
    throw new Error(
      `missing commands: ${missing.map((m) => `\`${m.command}\` (${m.why})`).join(", ")}. ` +
        `Install them (on Debian: \`sudo apt-get install -y ${packages.join(" ")}\`) and run again.`,
    );
  }
  await apt.install(packages);
  for (const m of missing) {
    if (!(await commandExists(m.command))) throw new Error(`installed ${m.aptPackage}, but \`${m.command}\` is still not on PATH`);
  }
}

/** The pid in /var/run/docker.pid when that process is alive, else null. */
function runningDockerd(): number | null {
  if (!existsSync(DOCKERD_PIDFILE)) return null;
  const pid = Number(readFileSync(DOCKERD_PIDFILE, "utf8").trim());
  return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : null;
}

/**
 * Starts dockerd in its own session, detached from this process (it keeps running after we exit),
 * with its output appended to DOCKERD_LOG.
 */
function startDockerd(): { pid: number; exited: () => string | null } {
  const fd = openSync(DOCKERD_LOG, "a");
  let exit: string | null = null;
  try {
    const child = spawn("dockerd", [], { detached: true, stdio: ["ignore", fd, fd] });
    child.on("exit", (code, signal) => {
      exit = signal ? `killed by ${signal}` : `exit ${code}`;
    });
    child.on("error", (err) => {
      exit = err.message;
    });
    child.unref();
    if (child.pid === undefined) throw new Error("cannot start dockerd: no pid");
    return { pid: child.pid, exited: () => exit };
  } finally {
    closeSync(fd);
  }
}

function logTail(): string {
  try {
    return lastLines(readFileSync(DOCKERD_LOG, "utf8"), 15);
  } catch {
    return "(no log)";
  }
}

async function waitForDaemon(timeoutMs: number, exited: () => string | null): Promise<string> {
  let lastError = "";
  return pollUntil(
    async () => {
      const gone = exited();
      if (gone !== null) throw new Error(`dockerd stopped (${gone}) before it answered; last lines of ${DOCKERD_LOG}:\n${logTail()}`);
      const { server, error } = await probeDaemon();
      lastError = error ?? "";
      return server ?? undefined;
    },
    {
      timeoutMs,
      intervalMs: 500,
      timeoutError: () =>
        new Error(
          `the Docker daemon did not answer within ${timeoutMs / 1000} s (${lastError}); last lines of ${DOCKERD_LOG}:\n${logTail()}`,
        ),
    },
  );
}

let ready: Promise<void> | undefined;

/**
 * Makes sure `docker` reaches a daemon and `docker compose` is v2; fast (two short commands) when
 * they already are. As root on Debian, installs what is missing (docker.io, debootstrap, and
 * trixie's compose v2 + buildx) and starts dockerd in the background. Elsewhere it throws an
 * Error that lists what to install or start.
 */
export function ensureDockerEngine(opts: { provision?: boolean } = {}): Promise<void> {
  ready ??= ensure(opts.provision === true).catch((err: unknown) => {
    ready = undefined;
    throw err;
  });
  return ready;
}

/** Known failure of a stage that needs an engine: the CLI prints it as one line, exit 1. */
export class EngineUnavailableError extends PipelineError {
  override name = "EngineUnavailableError";
}

/**
 * Whether `prepare` may install or start Docker. Always outside Jenkins; under Jenkins
 * (JENKINS_URL set) only when asked: ENVOY_PIPELINE_PROVISION=1 (or `prepare --provision`),
 * since an agent's engine belongs to whoever runs the agent.
 */
export function provisioningAllowed(s: Pick<ProcessSettings, "provision" | "underJenkins"> = settings()): boolean {
  return s.provision ?? !s.underJenkins;
}

/** One line saying what is missing, for stages that never provision. */
export function engineOneLine(s: EngineState): string {
  const problems = engineProblems(s).map((p) => p.replace(/\s*\n\s*/g, " "));
  const fix = "`envoy-pipeline prepare` installs and starts one (npm test and npm run pipeline do it too)";
  return `no usable Docker engine: ${problems.join("; ")}; ${fix}`;
}

let required: Promise<void> | undefined;

/**
 * For every stage but prepare (build, deploy, scale, verify, teardown, ls): the engine must
 * already be there. Never installs or starts anything; fails with EngineUnavailableError.
 */
export function requireDockerEngine(): Promise<void> {
  required ??= probeEngine().then((s) => {
    if (engineProblems(s).length > 0) {
      required = undefined;
      throw new EngineUnavailableError(engineOneLine(s));
    }
  });
  return required;
}

async function ensure(asked: boolean): Promise<void> {
  let s = await probeEngine();
  if (engineProblems(s).length === 0) return;
  if (!asked && !provisioningAllowed()) {
    throw new EngineUnavailableError(
      `${engineOneLine(s)} (under Jenkins only when asked: ENVOY_PIPELINE_PROVISION=1 or prepare --provision)`,
    );
  }
  if (!s.root || !s.debian) throw new Error(engineHelp(s));

  log.info(`Docker is not ready (${engineProblems(s).join("; ")}): provisioning it`);
  const missing = [...(!s.cli || !s.dockerd ? ["docker.io"] : []), ...(!s.debootstrap ? ["debootstrap"] : [])];
  if (missing.length > 0) {
    await apt.install(missing);
    s = await probeEngine();
  }
  if (!isComposeV2(s.compose) || !s.buildx) {
    await installTrixieComposeAndBuildx();
    s = await probeEngine();
    if (!isComposeV2(s.compose))
      throw new Error(
        `installed Debian trixie's docker-compose, but \`docker compose version\` still fails or is not v2 (${s.compose ?? "no output"})`,
      );
  }
  if (s.server === null) {
    const existing = runningDockerd();
    if (existing !== null) {
      log.info(`dockerd (pid ${existing}) is running but does not answer yet; waiting for it`);
      await waitingFor("the Docker daemon to answer", () => waitForDaemon(60_000, () => (pidAlive(existing) ? null : "exited")));
    } else {
      const started = startDockerd();
      log.info(`started dockerd (pid ${started.pid}), log: ${DOCKERD_LOG}`);
      const version = await waitingFor(`the Docker daemon to answer on /var/run/docker.sock`, () => waitForDaemon(60_000, started.exited));
      log.info(`Docker daemon ${version} is up`);
    }
  }
  const final = await probeEngine();
  const left = engineProblems(final);
  if (left.length > 0) throw new Error(`Docker is still not ready after provisioning: ${left.join("; ")}`);
}
