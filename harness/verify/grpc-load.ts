// The gRPC load generator.
// Design notes: docs/verify.md ("verify/grpc-load.ts").
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { Tally } from "./load.ts";

/** The demo services' .proto (services/proto), read at run time: no generated code to keep in step. */
export const WHOAMI_PROTO = fileURLToPath(new URL("../../services/proto/envoypipeline/v1/whoami.proto", import.meta.url));

export interface GrpcLoadOptions {
  /** host:port of Envoy's HTTP listener (or of an L4 listener), e.g. 127.0.0.1:32768 */
  target: string;
  /** :authority, which picks the service on Envoy's listener (e.g. service1). */
  authority: string;
  calls: number;
  /** Calls in flight at once, all over the one channel. */
  concurrency: number;
  expectedServiceId?: string;
  /** Per-call deadline, ms (default 10000). */
  timeoutMs?: number;
  tally?: Tally;
  /** Stop after this many calls in a row got no answer from a replica (default 2 × concurrency, at least 8). */
  giveUpAfter?: number;
}

export interface GrpcLoadResult {
  tally: Tally;
  durationMs: number;
  /** grpc-status name → calls (OK included). */
  statuses: Record<string, number>;
}

type GetResponse = { hostname: string; ip: string; serviceid: string; time: string };
type Get = (req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: GetResponse) => void) => void;

let whoami: grpc.ServiceClientConstructor | undefined;

function whoamiClient(): grpc.ServiceClientConstructor {
  if (whoami) return whoami;
  const pkg = grpc.loadPackageDefinition(loadSync(WHOAMI_PROTO, { keepCase: true, defaults: true })) as unknown as {
    envoypipeline: { v1: { Whoami: grpc.ServiceClientConstructor } };
  };
  whoami = pkg.envoypipeline.v1.Whoami;
  return whoami;
}

/**
 * One channel with its own subchannel pool: grpc-js shares subchannels (connections) between
 * channels to the same target by default, which would merge two loads into one connection.
 */
export function oneChannel(target: string, authority: string): grpc.Client {
  const Client = whoamiClient();
  return new Client(target, grpc.credentials.createInsecure(), {
    "grpc.default_authority": authority,
    "grpc.use_local_subchannel_pool": 1,
    "grpc.max_receive_message_length": 64 * 1024,
  });
}

/** One call: the answer, or the error with its grpc-status. */
export function callGet(client: grpc.Client, timeoutMs: number): Promise<{ res?: GetResponse; err?: grpc.ServiceError }> {
  const get = (client as unknown as { Get: Get }).Get.bind(client);
  return new Promise((resolve) =>
    get({}, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => resolve(err ? { err } : { res: res as GetResponse })),
  );
}

export async function runGrpcLoad(opts: GrpcLoadOptions): Promise<GrpcLoadResult> {
  const tally = opts.tally ?? new Tally(opts.expectedServiceId);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const giveUpAfter = opts.giveUpAfter ?? Math.max(8, 2 * opts.concurrency);
  const statuses: Record<string, number> = {};
  const client = oneChannel(opts.target, opts.authority);
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < opts.calls) {
      if (tally.consecutiveNoAnswer >= giveUpAfter) {
        tally.abandoned += opts.calls - next;
        next = opts.calls;
        return;
      }
      next += 1;
      const t0 = performance.now();
      const { res, err } = await callGet(client, timeoutMs);
      const ms = performance.now() - t0;
      const status = err ? (grpc.status[err.code] ?? String(err.code)) : "OK";
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (res) tally.answer(200, JSON.stringify({ ...res, success: true }), ms);
      else tally.transportError({ code: `grpc-status ${status}`, message: (err?.details ?? "").slice(0, 100) }, ms);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, opts.calls)) }, worker));
  } finally {
    client.close();
  }
  return { tally, durationMs: performance.now() - started, statuses };
}
