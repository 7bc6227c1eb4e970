// Who this replica is: the hostname (in Docker, the short container id) and its IPv4 address on
// the container network. Both are computed once at start-up.
import os from "node:os";

export interface Identity {
  hostname: string;
  ip: string;
}

type Interfaces = ReturnType<typeof os.networkInterfaces>;

/**
 * The first non-internal IPv4 address in interface order (eth0 in a container), or 127.0.0.1 when
 * the machine has none. Node 18.0-18.3 reported `family` as the number 4, later versions as "IPv4".
 */
export function firstExternalIPv4(interfaces: Interfaces = os.networkInterfaces()): string {
  for (const addresses of Object.values(interfaces)) {
    for (const address of addresses ?? []) {
      const family = address.family as string | number;
      if ((family === "IPv4" || family === 4) && !address.internal) return address.address;
    }
  }
  return "127.0.0.1";
}

/** `reportedHostname` is the REPORTED_HOSTNAME test override (see config.ts); normally undefined. */
export function detectIdentity(reportedHostname?: string): Identity {
  return { hostname: reportedHostname ?? os.hostname(), ip: firstExternalIPv4() };
}
