// The ADS stream: state-of-the-world xDS over one gRPC stream per Envoy, serving the snapshot
// cache's LDS, RDS, CDS and EDS (design: control-plane.ts). Per stream and per type it keeps the
// last response (version, nonce, names), what Envoy acknowledged and what it rejected.
import type * as grpc from "@grpc/grpc-js";
import type { SnapshotCache, TypeSnapshot } from "./cache.ts";
import { isTypeUrl, SHORT, TYPE, type DiscoveryRequest, type DiscoveryResponse, type Resource, type TypeUrl } from "./protos.ts";

/** A NACK: Envoy rejected `version` and keeps running `kept` (its last good version). */
export interface Nack {
  type: string;
  node: string;
  version: string;
  kept: string;
  message: string;
  at: string;
}

interface TypeState {
  /** Envoy has an unanswered request for this type (the SotW "watch"). */
  open: boolean;
  /** Resource names Envoy subscribes to; null for a wildcard (all of the type). */
  names: Set<string> | null;
  /** The version Envoy said it has in its latest request. */
  clientVersion: string;
  sent?: { version: string; nonce: string; names: Set<string> };
  acked?: string;
  nacked?: Nack;
}

export interface StreamStatus {
  id: number;
  node: string;
  peer: string;
  connectedAt: string;
  types: Record<string, { sent?: string; acked?: string; nacked?: Nack; names: string[] | "*" }>;
}

// Order on the wire when several types changed at once (the xDS protocol's "eventual consistency
// considerations"): clusters first, so that a new cluster is warming before its endpoints arrive
// (EDS is only ever sent for clusters Envoy named in its EDS subscription, i.e. clusters it got
// from CDS), listeners after clusters, route configurations after the listeners naming them.
const SEND_ORDER: readonly TypeUrl[] = [TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route];
const WILDCARD_TYPES = new Set<TypeUrl>([TYPE.cluster, TYPE.listener]);

type Call = grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;

class AdsStream {
  readonly types = new Map<TypeUrl, TypeState>();
  node = "";
  private nonce = 0;
  readonly connectedAt = new Date().toISOString();

  constructor(
    readonly id: number,
    private readonly call: Call,
    private readonly cache: SnapshotCache,
    private readonly hooks: { onNack(n: Nack): void; onAck(): void; log(line: string): void },
  ) {}

  get peer(): string {
    return this.call.getPeer();
  }

  handle(req: DiscoveryRequest): void {
    if (req.node?.id) this.node = req.node.id;
    if (!isTypeUrl(req.type_url)) {
      // A type this control plane does not serve (e.g. secrets): the watch stays open, unanswered.
      this.hooks.log(`stream ${this.id}: no resources of type ${req.type_url || "(none)"}; not answered`);
      return;
    }
    const type = req.type_url;
    let st = this.types.get(type);
    if (!st) {
      st = { open: false, names: null, clientVersion: "" };
      this.types.set(type, st);
    }
    if (st.sent && req.response_nonce !== st.sent.nonce) {
      // A request that answers an older response: superseded, ignored (xDS protocol, "resource updates").
      return;
    }
    if (st.sent) {
      if (req.error_detail) {
        const nack: Nack = {
          type: SHORT[type],
          node: this.node,
          version: st.sent.version,
          kept: req.version_info,
          message: req.error_detail.message ?? "(no message)",
          at: new Date().toISOString(),
        };
        st.nacked = nack;
        this.hooks.onNack(nack);
      } else {
        st.acked = st.sent.version;
        this.hooks.onAck();
      }
    }
    st.clientVersion = req.version_info;
    const names = req.resource_names.filter((n) => n !== "*");
    st.names = WILDCARD_TYPES.has(type) && names.length === req.resource_names.length && names.length === 0 ? null : new Set(names);
    if (WILDCARD_TYPES.has(type) && req.resource_names.includes("*")) st.names = null;
    st.open = true;
    this.pump();
  }

  /** Sends whatever is due, in CDS, EDS, LDS, RDS order. */
  pump(): void {
    for (const type of SEND_ORDER) this.maybeSend(type);
  }

  private maybeSend(type: TypeUrl): void {
    const st = this.types.get(type);
    if (!st?.open) return;
    const snap = this.cache.get(type);
    if (!snap) return;
    const resources = this.select(snap, st);
    const names = new Set(resources.map((r) => String(r["@type"] === TYPE.endpoint ? r.cluster_name : r.name)));
    const due = st.sent
      ? snap.version !== st.sent.version || [...names].some((n) => !st.sent!.names.has(n))
      : snap.version !== st.clientVersion;
    if (!due) return;
    const nonce = String(++this.nonce);
    st.sent = { version: snap.version, nonce, names };
    st.open = false;
    this.call.write({ version_info: snap.version, resources, type_url: type, nonce });
  }

  /** Wildcard types: everything. Named subscriptions (EDS, RDS): only what Envoy asked for. */
  private select(snap: TypeSnapshot, st: TypeState): Resource[] {
    if (st.names === null) return [...snap.resources.values()];
    return [...st.names].flatMap((n) => {
      const r = snap.resources.get(n);
      return r ? [r] : [];
    });
  }

  status(): StreamStatus {
    const types: StreamStatus["types"] = {};
    for (const [type, st] of this.types) {
      types[SHORT[type]] = {
        ...(st.sent ? { sent: st.sent.version } : {}),
        ...(st.acked !== undefined ? { acked: st.acked } : {}),
        ...(st.nacked ? { nacked: st.nacked } : {}),
        names: st.names === null ? "*" : [...st.names].sort(),
      };
    }
    return { id: this.id, node: this.node, peer: this.peer, connectedAt: this.connectedAt, types };
  }
}

export class AdsServer {
  private readonly streams = new Set<AdsStream>();
  private nextId = 0;
  private readonly nacks: Nack[] = [];
  private readonly ackWaiters = new Set<() => void>();

  constructor(
    private readonly cache: SnapshotCache,
    private readonly log: (line: string) => void = () => {},
  ) {
    cache.onChange(() => {
      for (const s of this.streams) s.pump();
    });
  }

  /** The grpc-js handler of StreamAggregatedResources. */
  readonly handler = (call: Call): void => {
    const stream = new AdsStream(++this.nextId, call, this.cache, {
      onNack: (n) => {
        this.nacks.push(n);
        if (this.nacks.length > 100) this.nacks.shift();
        this.log(
          `NACK from ${n.node || `stream ${stream.id}`}: ${n.type} version ${n.version} rejected, ` +
            `keeps ${n.kept || "(none)"}: ${n.message}`,
        );
        this.notifyAck();
      },
      onAck: () => this.notifyAck(),
      log: this.log,
    });
    this.streams.add(stream);
    this.log(`stream ${stream.id} opened from ${stream.peer}`);
    const close = (why: string): void => {
      if (!this.streams.delete(stream)) return;
      this.log(`stream ${stream.id} (${stream.node || "no node yet"}) closed: ${why}`);
      this.notifyAck();
    };
    call.on("data", (req: DiscoveryRequest) => {
      try {
        stream.handle(req);
      } catch (err) {
        this.log(`stream ${stream.id}: ${(err as Error).message}`);
      }
    });
    call.on("end", () => {
      close("ended by Envoy");
      call.end();
    });
    call.on("error", (err) => close(err.message));
    call.on("cancelled", () => close("cancelled"));
  };

  status(): { streams: StreamStatus[]; nacks: Nack[] } {
    return { streams: [...this.streams].map((s) => s.status()), nacks: [...this.nacks] };
  }

  private notifyAck(): void {
    for (const w of [...this.ackWaiters]) w();
  }

  /**
   * Resolves once every connected Envoy subscribed to `type` has answered (ACK or NACK) a version
   * at least as new as `version`; true when all acknowledged it, false when one rejected it or
   * nobody answered within `timeoutMs`. With no Envoy connected there is nobody to wait for: true.
   */
  waitForAck(type: TypeUrl, version: string, timeoutMs: number): Promise<boolean> {
    const want = this.cache.order(version);
    const verdict = (): boolean | undefined => {
      let all = true;
      for (const s of this.streams) {
        const st = s.types.get(type);
        if (!st) continue;
        if (st.nacked && this.cache.order(st.nacked.version) >= want) return false;
        if (st.acked === undefined || this.cache.order(st.acked) < want) all = false;
      }
      return all ? true : undefined;
    };
    return new Promise((resolve) => {
      const done = (v: boolean): void => {
        clearTimeout(timer);
        this.ackWaiters.delete(check);
        resolve(v);
      };
      const check = (): void => {
        const v = verdict();
        if (v !== undefined) done(v);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.ackWaiters.add(check);
      check();
    });
  }

  closeAll(): void {
    this.streams.clear();
  }
}
