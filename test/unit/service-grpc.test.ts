// The service's gRPC face in-process: Whoami/Get answers the replica's identity, Health answers
// SERVING and turns NOT_SERVING on drain (Watch streams are told), reflection lists the services,
// and a call carrying B3 metadata yields a child span of the caller's.
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { test } from "vitest";
import { loadConfig } from "../../services/src/config.ts";
import { startGrpcService, WHOAMI_PROTO, WHOAMI_SERVICE } from "../../services/src/grpc.ts";
import { silentLogger } from "../../services/src/logging.ts";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace";
import { Tracing } from "../../services/src/tracing.ts";

type After = { onTestFinished(fn: () => unknown): void };
const IDENTITY = { hostname: "fc4a73df5ae8", ip: "172.20.0.5" };

const loaded = grpc.loadPackageDefinition(
  loadSync([WHOAMI_PROTO, healthProtoPath], { keepCase: true, defaults: true, enums: String }),
) as unknown as {
  envoypipeline: { v1: { Whoami: grpc.ServiceClientConstructor } };
  grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
};

type Unary = (req: object, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res?: Record<string, string>) => void) => void;
const call = (client: grpc.Client, method: string, req: object, md = new grpc.Metadata()) =>
  new Promise<Record<string, string>>((resolve, reject) =>
    ((client as unknown as Record<string, Unary>)[method] as Unary).call(client, req, md, (err, res) =>
      err ? reject(err) : resolve(res ?? {}),
    ),
  );

async function start(t: After, env: Record<string, string> = {}) {
  const exporter = new InMemorySpanExporter();
  const tracing = new Tracing({ endpoint: "http://zipkin.invalid/api/v2/spans", serviceName: "service1", logger: silentLogger, exporter });
  const spans = async () => {
    await tracing.flush();
    return exporter.getFinishedSpans();
  };
  const config = loadConfig({ SERVICE_ID: "1", GRPC_PORT: "0", ...env });
  const svc = await startGrpcService({
    config,
    identity: IDENTITY,
    logger: silentLogger,
    tracing,
    host: "127.0.0.1",
    now: () => new Date(0),
  });
  t.onTestFinished(() => svc.close(100));
  const target = `127.0.0.1:${svc.port}`;
  const whoami = new loaded.envoypipeline.v1.Whoami(target, grpc.credentials.createInsecure());
  const health = new loaded.grpc.health.v1.Health(target, grpc.credentials.createInsecure());
  t.onTestFinished(() => {
    whoami.close();
    health.close();
  });
  return { svc, whoami, health, spans };
}

test("Whoami/Get answers the identity of GET /service/:id; a wrong service_id is NOT_FOUND", async (t) => {
  const { whoami } = await start(t);
  assert.deepEqual(await call(whoami, "Get", {}), {
    hostname: "fc4a73df5ae8",
    ip: "172.20.0.5",
    serviceid: "1",
    time: "1970-01-01 00:00:00",
  });
  assert.equal((await call(whoami, "Get", { service_id: "1" })).serviceid, "1");
  await assert.rejects(call(whoami, "Get", { service_id: "2" }), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.match(err.details, /serves service 1, not 2/);
    return true;
  });
});

test("Health: SERVING, NOT_SERVING after drain (Check and Watch), unknown service is NOT_FOUND", async (t) => {
  const { svc, health } = await start(t);
  assert.equal((await call(health, "check", { service: "" })).status, "SERVING");
  assert.equal((await call(health, "check", { service: WHOAMI_SERVICE })).status, "SERVING");
  await assert.rejects(call(health, "check", { service: "nope" }), (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND);
  const watch = (health as unknown as { watch(req: object): grpc.ClientReadableStream<{ status: string }> }).watch({ service: "" });
  const seen: string[] = [];
  const notServing = new Promise<void>((resolve) =>
    watch.on("data", (m: { status: string }) => {
      seen.push(m.status);
      if (m.status === "SERVING") svc.drain();
      if (m.status === "NOT_SERVING") resolve();
    }),
  );
  watch.on("error", () => {});
  await notServing;
  watch.cancel();
  assert.deepEqual(seen, ["SERVING", "NOT_SERVING"]);
  assert.equal((await call(health, "check", { service: "" })).status, "NOT_SERVING");
});

test("trace context from gRPC metadata (B3): the service's span is a child of the caller's", async (t) => {
  const { whoami, spans } = await start(t);
  const md = new grpc.Metadata();
  md.set("x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124");
  md.set("x-b3-spanid", "a2fb4a1d1a96d312");
  md.set("x-b3-sampled", "1");
  await call(whoami, "Get", {}, md);
  const unsampled = new grpc.Metadata();
  unsampled.set("traceparent", "00-463ac35c9f6413ad48485a3953bb6125-a2fb4a1d1a96d313-00");
  await call(whoami, "Get", {}, unsampled);
  const finished = await spans();
  assert.equal(finished.length, 1);
  const [span] = finished;
  assert.equal(span?.spanContext().traceId, "463ac35c9f6413ad48485a3953bb6124");
  assert.equal(span?.parentSpanContext?.spanId, "a2fb4a1d1a96d312");
  assert.equal(span?.name, "envoypipeline.v1.Whoami/Get");
  assert.equal(span?.attributes["rpc.grpc.status_code"], "0");
  assert.equal(span?.attributes.replica, "fc4a73df5ae8");
});
