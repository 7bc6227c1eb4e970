// A real ADS client for protocol tests: grpc-js speaking StreamAggregatedResources to our server,
// with the same protos. It sends what Envoy sends (node, type, versions, nonces, error_detail)
// and hands over each response as it arrives (waits are on the stream's events, not on timers).
import * as grpc from "@grpc/grpc-js";
import { once } from "node:events";
import { adsService, type DiscoveryRequestIn, type DiscoveryResponseOut } from "../../harness/xds/protos.ts";
import type { Endpoint } from "../../harness/xds/resources.ts";
import type { EndpointSource } from "../../harness/xds/control-plane.ts";

const AdsClient = grpc.makeGenericClientConstructor(adsService, "AggregatedDiscoveryService");

export interface AdsTestClient {
  send(req: DiscoveryRequestIn): void;
  /** The next response (in arrival order); rejects when the stream ends first or after timeoutMs. */
  next(timeoutMs?: number): Promise<DiscoveryResponseOut>;
  /** Responses received and not yet taken by next(). */
  pending(): number;
  /** Sends an ACK of a response (same version, nonce and names). */
  ack(res: DiscoveryResponseOut, names?: string[]): void;
  /** Sends a NACK: Envoy's last good version, the response's nonce, and an error_detail. */
  nack(res: DiscoveryResponseOut, keptVersion: string, message: string, names?: string[]): void;
  close(): Promise<void>;
}

export function adsClient(address: string, nodeId = "test-node"): AdsTestClient {
  const client = new AdsClient(address, grpc.credentials.createInsecure());
  const call = client.StreamAggregatedResources!() as grpc.ClientDuplexStream<DiscoveryRequestIn, DiscoveryResponseOut>;
  const queue: DiscoveryResponseOut[] = [];
  const waiters: { resolve(r: DiscoveryResponseOut): void; reject(e: Error): void }[] = [];
  let ended: Error | undefined;
  call.on("data", (r: DiscoveryResponseOut) => {
    const w = waiters.shift();
    if (w) w.resolve(r);
    else queue.push(r);
  });
  const fail = (e: Error): void => {
    ended = e;
    for (const w of waiters.splice(0)) w.reject(e);
  };
  call.on("error", (e) => fail(e));
  call.on("end", () => fail(new Error("stream ended")));
  let first = true;
  const send = (req: DiscoveryRequestIn): void => {
    call.write(first ? { node: { id: nodeId, cluster: "test" }, ...req } : req);
    first = false;
  };
  return {
    send,
    next(timeoutMs = 10_000) {
      const r = queue.shift();
      if (r) return Promise.resolve(r);
      if (ended) return Promise.reject(ended);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          resolve: (x) => {
            clearTimeout(timer);
            resolve(x);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
      });
    },
    pending: () => queue.length,
    ack(res, names = []) {
      send({ type_url: res.type_url, version_info: res.version_info, response_nonce: res.nonce, resource_names: names });
    },
    nack(res, keptVersion, message, names = []) {
      send({
        type_url: res.type_url,
        version_info: keptVersion,
        response_nonce: res.nonce,
        resource_names: names,
        error_detail: { code: 3, message },
      });
    },
    async close() {
      call.cancel();
      client.close();
      if (!ended) await once(call, "error").catch(() => undefined);
    },
  };
}

/** Endpoints set by the test: real processes on loopback, or plain addresses for protocol tests. */
export class StaticEndpoints implements EndpointSource {
  private readonly map = new Map<string, Endpoint[]>();
  private notify: () => void = () => {};
  constructor(initial: Record<string, Endpoint[]> = {}) {
    for (const [k, v] of Object.entries(initial)) this.map.set(k, v);
  }
  async start(onChange: () => void): Promise<void> {
    this.notify = onChange;
  }
  endpoints(): ReadonlyMap<string, readonly Endpoint[]> {
    return this.map;
  }
  set(cluster: string, endpoints: Endpoint[]): void {
    this.map.set(cluster, endpoints);
    this.notify();
  }
  drain(names: readonly string[]): string[] {
    const found: string[] = [];
    for (const [cluster, list] of this.map) {
      this.map.set(
        cluster,
        list.map((e) => {
          if (!e.hostname || !names.includes(e.hostname)) return e;
          found.push(e.hostname);
          return { ...e, health: "DRAINING" as const };
        }),
      );
    }
    return found;
  }
  async close(): Promise<void> {}
}
