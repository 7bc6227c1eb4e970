// Phase "rpc": gRPC per call, one channel through Envoy's HTTP listener and one through the
// service's gRPC L4 listener beside it in the layers view. After the panel's windows, as layers.
import type { PipelineConfig } from "../../config.ts";
import { log } from "../../lib/log.ts";
import type { ServiceState } from "../../stack/desired-state.ts";
import type { StackDirectory } from "../../stack/directory.ts";
import type { StackEndpoints } from "../../stack/discover.ts";
import { routeFor } from "../../stack/routes.ts";
import { probeRpc } from "../rpc.ts";
import type { VerifyReport } from "../schema.ts";
import { specOf } from "./load.ts";
import type { RpcVerdict } from "./verdicts.ts";

export interface RpcInput {
  config: Pick<PipelineConfig, "weights" | "verify">;
  report: VerifyReport;
  endpoints: StackEndpoints;
  states: readonly ServiceState[];
  directory: StackDirectory;
}

async function rpcOf(input: RpcInput, state: ServiceState): Promise<RpcVerdict | undefined> {
  const { config, endpoints } = input;
  if (!input.report.services.some((s) => s.service === state.service)) return undefined;
  const spec = specOf(state, config.weights);
  const route = routeFor(state.service);
  const l4 = endpoints.grpcL4Urls?.[state.service];
  const rpc = await probeRpc({
    adminUrl: endpoints.adminUrl,
    target: new URL(endpoints.listenerUrl).host,
    ...(l4 ? { l4Target: new URL(l4).host } : {}),
    service: state.service,
    serviceId: route.id,
    authority: route.grpcAuthority,
    cluster: route.grpcCluster,
    // As many streams on the one channel as the HTTP load has requests in flight.
    streams: config.verify.concurrency,
    replicas: spec.replicas,
    ...(spec.expect ? { expect: spec.expect } : {}),
    ...(spec.desired ? { desired: spec.desired } : {}),
    namer: input.directory,
  });
  log.info(`  ${rpc.check.passed ? "PASS" : "FAIL"} ${state.service} rpc: ${rpc.check.reason}`);
  return { service: state.service, check: rpc.check, ...(rpc.layers ? { grpc: rpc.layers } : {}) };
}

/** The rpc verdict of every service in the report. */
export async function rpcPhase(input: RpcInput): Promise<RpcVerdict[]> {
  const verdicts = await Promise.all(input.states.map((state) => rpcOf(input, state)));
  return verdicts.filter((v): v is RpcVerdict => v !== undefined);
}
