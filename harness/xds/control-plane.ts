// The control plane: an xDS server (ADS, state of the world, gRPC) that programs the front proxy
// through its API instead of a file, with endpoints fed by Docker events.
//
// Design (after envoyproxy/go-control-plane's snapshot cache and SotW ADS server; our own code):
//
//   Docker events ──► EndpointSource ──► frontProxyResources() ──► SnapshotCache ──► AdsServer ──► Envoy
//   (start, die,      (replicas, health,  (listeners, routes,       (one consistent   (one stream per
//    pause, kill, …)   draining)           EDS clusters)             set, versioned    Envoy: LDS, RDS,
//                                                                     per type)         CDS, EDS)
//
// - Snapshot (cache.ts): every change rebuilds the whole resource set from the current endpoints
//   and replaces the snapshot. Only types whose content changed get a new version; versions are
//   `<boot>.<n>`, never reused, also across restarts. A snapshot is consistent (every EDS cluster
//   has endpoints, every RDS name exists) or it is refused. One snapshot serves every node: all
//   Envoys of a stack are the same front proxy (go-control-plane keys snapshots by node; the
//   status below still names each node).
// - Stream (ads-server.ts): per type, the last response's version, nonce and names; a request
//   whose nonce is not the latest is stale and ignored; a request answering the latest nonce is an
//   ACK, or a NACK when it carries error_detail: then Envoy keeps its last good version, the
//   server records the rejection with Envoy's message (status, log) and does not resend the same
//   version; the next snapshot is sent as usual. A response goes out only to an open request (one
//   unanswered response per type, the SotW flow control), and when the snapshot's version differs
//   from what Envoy has, or Envoy subscribed to a name it was not sent yet. Within one change the
//   order on the wire is CDS, EDS, LDS, RDS; EDS carries only the clusters Envoy subscribed to,
//   which are the clusters it received over CDS: never endpoints for a cluster Envoy does not know.
//   On reconnect (Envoy or control plane restarted) Envoy keeps serving its last config and sends
//   the versions it has; a new control plane has a new boot, so everything is resent (resync).
// - Endpoints (docker-source.ts): the compose project's containers, from `docker events` filtered
//   by the project's label, without any DNS: a container is an endpoint of the cluster named
//   after its compose service; HEALTHY only when it runs, is not paused and its health check says
//   healthy (or it has none); UNHEALTHY otherwise; DRAINING from the moment it is told to stop.
// - Scale-down drains first, then stops (see docs/xds.md): the scale stage POSTs the replicas it
//   will remove to /drain on the admin port; the control plane marks them DRAINING, pushes EDS and
//   answers once every connected Envoy has ACKed that version; only then does the stage stop them.
//   A stop that did not come through the harness (`docker stop`, compose) is caught by Docker's
//   `kill` event, which precedes `die`: the replica is DRAINING while it shuts down gracefully.
// - Admin HTTP (admin-http.ts): GET /status (streams, versions, ACKs, NACKs with Envoy's
//   error_detail, endpoints), POST /drain.
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
