// The real Envoy binary started from the project's own envoy/envoy-xds.yaml, pointed at a control
// plane on loopback instead of the compose service `control-plane` (and with an ephemeral admin
// port): everything else it runs comes over ADS. Killed by close(), or on process exit.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../harness/lib/paths.ts";
import { EnvoyAdmin } from "../../harness/envoy/admin.ts";
import { pollUntil } from "./poll.ts";
import { ensureEnvoy, stopChild, track } from "../fixtures/local-envoy.ts";

export interface XdsEnvoy {
  adminUrl: string;
  admin: EnvoyAdmin;
  child: ChildProcess;
  /** The last lines Envoy logged. */
  log(): string;
  close(): Promise<void>;
}

/** envoy/envoy-xds.yaml with the control plane at 127.0.0.1:<port> and admin on 127.0.0.1:0. */
export function renderXdsBootstrap(controlPlanePort: number): string {
  const original = readFileSync(join(repoRoot, "envoy", "envoy-xds.yaml"), "utf8");
  const replace = (text: string, from: string, to: string): string => {
    if (!text.includes(from)) throw new Error(`envoy/envoy-xds.yaml no longer contains '${from}'`);
    return text.replace(from, to);
  };
  let text = replace(
    original,
    "socket_address: { address: control-plane, port_value: 18000 }",
    `socket_address: { address: 127.0.0.1, port_value: ${controlPlanePort} }`,
  );
  text = replace(text, "socket_address: { address: 0.0.0.0, port_value: 9901 }", "socket_address: { address: 127.0.0.1, port_value: 0 }");
  // The CPU monitor reads the container's cgroup; a process on the host may not have one.
  text = replace(text, "mode: CONTAINER", "mode: HOST");
  return text;
}

export async function startXdsEnvoy(controlPlanePort: number, opts: { concurrency?: number } = {}): Promise<XdsEnvoy> {
  const bin = await ensureEnvoy();
  const dir = mkdtempSync(join(tmpdir(), "xds-envoy-"));
  const config = join(dir, "envoy.yaml");
  writeFileSync(config, renderXdsBootstrap(controlPlanePort));
  const addressPath = join(dir, "admin.address");
  const child = spawn(
    bin,
    [
      "-c",
      config,
      "--concurrency",
      String(opts.concurrency ?? 2),
      "--disable-hot-restart",
      "--admin-address-path",
      addressPath,
      "-l",
      "warning",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  track(child);
  let log = "";
  const keep = (d: Buffer): void => {
    log = (log + d.toString()).slice(-8000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const close = async (): Promise<void> => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const adminUrl = await pollUntil(
      "Envoy's admin address file",
      async () => {
        if (child.exitCode !== null) throw new Error(`envoy exited with ${child.exitCode}: ${log}`);
        const addr = existsSync(addressPath) ? readFileSync(addressPath, "utf8").trim() : "";
        return addr === "" ? undefined : `http://${addr}`;
      },
      { timeoutMs: 20_000, intervalMs: 50 },
    );
    return { adminUrl, admin: new EnvoyAdmin(adminUrl), child, log: () => log, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Resolves when the process has exited (for tests that kill it). */
export async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
}
