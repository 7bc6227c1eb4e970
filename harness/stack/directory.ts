// Who is behind an address or a hostname on a stack's networks, as a person would look for it: "container
// stack-service1-2 (hostname 3f2a9c1d0b7e, 172.20.0.5)".
// Design notes: docs/stacks.md ("stack/directory.ts").
import type Dockerode from "dockerode";
import { z } from "zod";
import { formatIssues } from "../lib/errors.ts";
import { containerName, DiscoveryError, inspectContainer, PROJECT_LABEL, projectContainers, projectIp, SERVICE_LABEL } from "./discover.ts";

export interface StackMember {
  container: string;
  hostname: string;
  /** Addresses on the project's networks (empty for a stopped container). */
  ips: string[];
  /** Compose service label, when it has one. */
  service: string | undefined;
}

const networkSchema = z.object({
  Name: z.string(),
  Containers: z
    .record(z.string(), z.object({ Name: z.string(), IPv4Address: z.string() }))
    .nullable()
    .optional()
    .transform((c) => c ?? {}),
});

/** Names addresses and hostnames as a person would look for them (container, hostname, IP). */
export interface Namer {
  /** "container x (hostname h, 172.20.0.5:8080)", or that nothing owns the address. */
  describeIp(ipOrHostPort: string): string;
  /** "container x (hostname h, 172.20.0.5)", or that no container has the hostname. */
  describeHostname(hostname: string): string;
  /** The container name behind a hostname, when one exists. */
  containerOf(hostname: string): string | undefined;
}

export class StackDirectory implements Namer {
  constructor(readonly members: readonly StackMember[]) {}

  byIp(ip: string): StackMember | undefined {
    return this.members.find((m) => m.ips.includes(ip));
  }

  byHostname(hostname: string): StackMember | undefined {
    return this.members.find((m) => m.hostname === hostname);
  }

  /** "container x (hostname h, 172.20.0.5)", or the address and that nothing owns it. */
  describeIp(ipOrHostPort: string): string {
    const ip = ipOrHostPort.replace(/:\d+$/, "");
    const m = this.byIp(ip);
    return m ? describeMember(m, ipOrHostPort) : `${ipOrHostPort} (no container on the project's networks has this address)`;
  }

  containerOf(hostname: string): string | undefined {
    return this.byHostname(hostname)?.container;
  }

  /**
   * Names every bare address and container hostname in a line of text from elsewhere (Prometheus'
   * target errors, Zipkin's spans): "172.20.0.5:8080" becomes "container x (hostname h,
   * 172.20.0.5:8080)", "3f2a9c1d0b7e" becomes "3f2a9c1d0b7e (container x)".
   */
  nameIn(text: string): string {
    // Addresses inside URLs ("http://172.20.0.5:8080/metrics") stay as they are: the same
    // address is named where the sentence speaks of it.
    // A hostname is annotated once, where no earlier mention already named its container.
    const named = new Set<string>();
    return text.replace(
      /(?<![/@])\b(\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?)\b|\b([0-9a-f]{12})\b/g,
      (match, address?: string, hostname?: string) => {
        if (address) {
          const owner = this.byIp(address.replace(/:\d+$/, ""));
          if (owner) named.add(owner.container);
          return this.describeIp(address);
        }
        const m = hostname ? this.byHostname(hostname) : undefined;
        if (!m || named.has(m.container) || text.includes(`container ${m.container}`)) return match;
        named.add(m.container);
        return `${match} (container ${m.container})`;
      },
    );
  }

  /** "container x (hostname h, 172.20.0.5)", or the hostname and that no container has it. */
  describeHostname(hostname: string): string {
    const m = this.byHostname(hostname);
    return m ? describeMember(m) : `'${hostname}' (no container on the project's networks has this hostname)`;
  }
}

function describeMember(m: StackMember, address?: string): string {
  const where = address ?? m.ips[0];
  return `container ${m.container} (hostname ${m.hostname}${where ? `, ${where}` : ""})`;
}

/** Every container on the project's networks or with its label. */
export async function stackDirectory(docker: Dockerode, project: string): Promise<StackDirectory> {
  const networks = await docker.listNetworks({ filters: { label: [`${PROJECT_LABEL}=${project}`] } });
  const attached = new Map<string, string[]>();
  for (const n of networks) {
    const parsed = networkSchema.safeParse(await docker.getNetwork(n.Id).inspect());
    if (!parsed.success) throw new DiscoveryError(`docker network inspect ${n.Id}: unexpected shape: ${formatIssues(parsed.error)}`);
    for (const [id, c] of Object.entries(parsed.data.Containers)) {
      const ip = c.IPv4Address.replace(/\/\d+$/, "");
      attached.set(id, [...(attached.get(id) ?? []), ...(ip ? [ip] : [])]);
    }
  }
  const labelled = await projectContainers(docker, project);
  const members = new Map<string, StackMember>();
  for (const c of labelled) {
    const ip = projectIp(c, project);
    members.set(c.Id, {
      container: containerName(c),
      hostname: c.Config.Hostname,
      ips: ip ? [ip] : [],
      service: c.Config.Labels[SERVICE_LABEL],
    });
  }
  await Promise.all(
    [...attached].map(async ([id, ips]) => {
      const known = members.get(id);
      if (known) {
        known.ips = [...new Set([...known.ips, ...ips])];
        return;
      }
      try {
        const c = await inspectContainer(docker, id);
        members.set(id, { container: containerName(c), hostname: c.Config.Hostname, ips, service: c.Config.Labels[SERVICE_LABEL] });
      } catch {
        // Removed between the network's listing and now: nothing left to name.
      }
    }),
  );
  return new StackDirectory([...members.values()]);
}
