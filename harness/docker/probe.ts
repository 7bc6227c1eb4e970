// What a Docker engine has and lacks (daemon, compose v2, buildx, debootstrap), and how to say so:
// probing never installs or starts anything.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { formatIssues } from "../lib/errors.ts";
import { commandExists, lastLines, runCommand } from "./exec.ts";

/** Where a dockerd started by the harness writes its log. */
export const DOCKERD_LOG = "/var/log/envoy-pipeline-dockerd.log";

const versionSchema = z.object({
  Client: z.object({ Version: z.string() }).passthrough(),
  Server: z.object({ Version: z.string(), ApiVersion: z.string() }).passthrough().nullable(),
});
const composeVersionSchema = z.object({ version: z.string().min(1) });

export interface EngineState {
  /** `docker` is on PATH. */
  cli: boolean;
  /** Daemon version when `docker version` reached it, else null. */
  server: string | null;
  /** What `docker version` said when it did not reach the daemon. */
  serverError: string | null;
  /** Compose version from `docker compose version` (null when the plugin is missing). */
  compose: string | null;
  /** `docker buildx` works (BuildKit builds). */
  buildx: boolean;
  /** `dockerd` is on PATH. */
  dockerd: boolean;
  debootstrap: boolean;
  root: boolean;
  /** ID (and ID_LIKE) from /etc/os-release include "debian". */
  debian: boolean;
}

/** Whether compose reports major version 2 or later ("2.26.1-4", "v2.29.7"). */
export function isComposeV2(version: string | null): boolean {
  const m = version === null ? null : /^v?(\d+)\./.exec(version.trim());
  return m !== null && m[1] !== undefined && Number(m[1]) >= 2;
}

/** Parses /etc/os-release text (KEY=value, optionally quoted) into a map. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m || m[1] === undefined || m[2] === undefined) continue;
    out[m[1]] = m[2].replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1");
  }
  return out;
}

export function isDebianLike(osRelease: Record<string, string>): boolean {
  const ids = `${osRelease.ID ?? ""} ${osRelease.ID_LIKE ?? ""}`.split(/\s+/);
  return ids.includes("debian");
}

export function readOsRelease(): Record<string, string> {
  try {
    return parseOsRelease(readFileSync("/etc/os-release", "utf8"));
  } catch {
    return {};
  }
}

export async function probeDaemon(): Promise<{ server: string | null; error: string | null }> {
  const r = await runCommand("docker", ["version", "--format", "{{json .}}"], { timeoutMs: 20_000 });
  const firstLine = r.stdout.trim().split("\n")[0] ?? "";
  let data: unknown = null;
  try {
    data = JSON.parse(firstLine);
  } catch {
    // not JSON: reported below
  }
  const parsed = versionSchema.safeParse(data);
  if (parsed.success && parsed.data.Server) return { server: parsed.data.Server.Version, error: null };
  if (r.code === 0 && !parsed.success) {
    return { server: null, error: `\`docker version --format '{{json .}}'\` printed unexpected JSON: ${formatIssues(parsed.error)}` };
  }
  return { server: null, error: lastLines(r.stderr || r.stdout, 3) || `exit ${r.code}` };
}

async function probeCompose(): Promise<string | null> {
  const r = await runCommand("docker", ["compose", "version", "--format", "json"], { timeoutMs: 20_000 });
  if (r.code !== 0) return null;
  try {
    const parsed = composeVersionSchema.safeParse(JSON.parse(r.stdout.trim()));
    return parsed.success ? parsed.data.version : null;
  } catch {
    return null;
  }
}

export async function probeEngine(): Promise<EngineState> {
  const os = readOsRelease();
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  const [cli, dockerd, debootstrap] = await Promise.all([commandExists("docker"), commandExists("dockerd"), commandExists("debootstrap")]);
  if (!cli) {
    return {
      cli,
      server: null,
      serverError: "docker: command not found",
      compose: null,
      buildx: false,
      dockerd,
      debootstrap,
      root,
      debian: isDebianLike(os),
    };
  }
  const [daemon, compose, buildx] = await Promise.all([
    probeDaemon(),
    probeCompose(),
    runCommand("docker", ["buildx", "version"], { timeoutMs: 20_000 }).then((r) => r.code === 0),
  ]);
  return { cli, server: daemon.server, serverError: daemon.error, compose, buildx, dockerd, debootstrap, root, debian: isDebianLike(os) };
}

// ---------------------------------------------------------------------------------------------
// What is missing, in words

/** Everything that keeps the harness from using Docker (empty when the engine is ready). */
export function engineProblems(s: EngineState): string[] {
  const problems: string[] = [];
  if (!s.cli) problems.push("the docker CLI is not installed");
  else if (s.server === null) problems.push(`the Docker daemon does not answer (${s.serverError ?? "no reason given"})`);
  if (s.cli && !isComposeV2(s.compose)) {
    problems.push(
      s.compose === null ? "`docker compose` (Compose v2 plugin) is not installed" : `\`docker compose\` is ${s.compose}, not v2`,
    );
  }
  return problems;
}

/**
 * The message for a host where we cannot fix things ourselves (not root, or not Debian): what is
 * wrong and the exact commands that fix it.
 */
export function engineHelp(s: EngineState): string {
  const problems = engineProblems(s);
  const lines = [`Docker is not ready for envoy-pipeline: ${problems.join("; ")}.`];
  const why = !s.root && !s.debian ? "not running as root on Debian" : !s.root ? "not running as root" : "this host is not Debian";
  lines.push(`envoy-pipeline installs and starts Docker by itself only as root on Debian (${why}). Fix it by hand:`);
  const permission = s.serverError !== null && /permission denied/i.test(s.serverError);
  if (permission) {
    lines.push(
      `  - the daemon socket is not accessible to this user: \`sudo usermod -aG docker ${process.env.USER ?? "$USER"}\`, then log in again`,
    );
  }
  if (s.debian) {
    if (!s.cli || !s.dockerd || !s.debootstrap)
      lines.push("  - install the engine: `sudo apt-get update && sudo apt-get install -y docker.io debootstrap`");
    if (s.cli && s.server === null && !permission) {
      lines.push(
        `  - start the daemon: \`sudo systemctl start docker\` (no systemd: \`sudo sh -c 'nohup dockerd >${DOCKERD_LOG} 2>&1 &'\`)`,
      );
    }
    if (!isComposeV2(s.compose)) {
      lines.push(
        "  - install Compose v2: Debian trixie's `docker-compose` and `docker-buildx` packages " +
          "(`apt-get download docker-compose docker-buildx` from a trixie source, " +
          "then `sudo dpkg -i docker-compose_*.deb docker-buildx_*.deb`), " +
          "or Docker's own `docker-compose-plugin` package (https://docs.docker.com/compose/install/linux/)",
      );
    }
  } else {
    if (!s.cli || !s.dockerd) lines.push("  - install Docker Engine 20.10 or later (https://docs.docker.com/engine/install/)");
    if (s.cli && s.server === null && !permission) lines.push("  - start the daemon (`sudo systemctl start docker`, or `sudo dockerd &`)");
    if (!isComposeV2(s.compose))
      lines.push("  - install the Compose v2 plugin (`docker-compose-plugin`, https://docs.docker.com/compose/install/linux/)");
    if (!s.debootstrap) lines.push("  - for locally built base images (no registry): install debootstrap");
  }
  return lines.join("\n");
}
