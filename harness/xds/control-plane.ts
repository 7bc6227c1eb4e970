// The control plane: an xDS server (ADS, state of the world, gRPC) that programs the front proxy
// through its API, with endpoints fed by Docker events. Design and protocol notes: docs/xds.md.
import * as grpc from "@grpc/grpc-js";
import { AdsServer, type Nack, type StreamStatus } from "./ads-server.ts";
import { SnapshotCache } from "./cache.ts";
import { adsService, TYPE } from "./protos.ts";
import { frontProxyResources, type Endpoint, type FrontProxySpec } from "./resources.ts";

/** Where endpoints come from: Docker (docker-source.ts) or, in tests, processes on loopback. */
export interface EndpointSource {
  /** Starts watching; `onChange` is called after every change of the endpoints. */
  start(onChange: () => void): Promise<void>;
  /** Endpoints per cluster, as of now. */
  endpoints(): ReadonlyMap<string, readonly Endpoint[]>;
  /** Marks replicas (by name) as draining; returns the names it knew. */
  drain(names: readonly string[]): string[];
  close(): Promise<void>;
}

export interface ControlPlaneOptions {
  spec: FrontProxySpec;
  source: EndpointSource;
  /** gRPC (ADS) address; port 0 picks a free one. */
  host?: string;
  port?: number;
  log?: (line: string) => void;
}

export interface DrainResult {
  drained: string[];
  unknown: string[];
  /** The EDS version that marks them DRAINING (absent when nothing changed). */
  version?: string;
  /** Every connected Envoy ACKed that version. */
  acked: boolean;
}

export interface ControlPlaneStatus {
  boot: string;
  versions: Record<string, string | undefined>;
  streams: StreamStatus[];
  nacks: Nack[];
  endpoints: Record<string, readonly Endpoint[]>;
}

export class ControlPlane {
  readonly cache = new SnapshotCache();
  readonly ads: AdsServer;
  private readonly server = new grpc.Server();
  private boundPort = 0;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: ControlPlaneOptions) {
    this.log = opts.log ?? (() => {});
    this.ads = new AdsServer(this.cache, this.log);
    this.server.addService(adsService, { StreamAggregatedResources: this.ads.handler });
  }

  get port(): number {
    return this.boundPort;
  }

  /** host:port for Envoy's bootstrap (grpc_services.envoy_grpc's cluster) or a client. */
  get address(): string {
    return `${this.opts.host ?? "0.0.0.0"}:${this.boundPort}`;
  }

  /** Rebuilds the snapshot from the current endpoints; returns the versions that changed. */
  publish(): Partial<Record<string, string>> {
    const change = this.cache.set(frontProxyResources(this.opts.spec, this.opts.source.endpoints()));
    if (change.changed.length > 0) {
      this.log(
        `snapshot: ${Object.entries(change.versions)
          .map(([t, v]) => `${t.replace(/^.*\./, "")} ${v}`)
          .join(", ")}`,
      );
    }
    return change.versions;
  }

  async start(): Promise<this> {
    this.publish();
    await this.opts.source.start(() => this.publish());
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(
        `${this.opts.host ?? "0.0.0.0"}:${this.opts.port ?? 0}`,
        grpc.ServerCredentials.createInsecure(),
        (err, port) => (err ? reject(err) : resolve(port)),
      ),
    );
    return this;
  }

  /** Marks replicas DRAINING and waits until every connected Envoy has ACKed it. */
  async drain(names: readonly string[], timeoutMs = 5000): Promise<DrainResult> {
    const drained = this.opts.source.drain(names);
    const unknown = names.filter((n) => !drained.includes(n));
    const versions = this.publish();
    const version = versions[TYPE.endpoint] ?? this.cache.get(TYPE.endpoint)?.version;
    const acked = version === undefined ? true : await this.ads.waitForAck(TYPE.endpoint, version, timeoutMs);
    return { drained, unknown, ...(version !== undefined ? { version } : {}), acked };
  }

  status(): ControlPlaneStatus {
    const versions: Record<string, string | undefined> = {};
    for (const [name, type] of Object.entries(TYPE)) versions[name] = this.cache.get(type)?.version;
    return { boot: this.cache.boot, versions, ...this.ads.status(), endpoints: Object.fromEntries(this.opts.source.endpoints()) };
  }

  async close(): Promise<void> {
    await this.opts.source.close();
    // Streams are cut: Envoy keeps its last config and reconnects with backoff.
    this.server.forceShutdown();
    this.ads.closeAll();
  }
}
