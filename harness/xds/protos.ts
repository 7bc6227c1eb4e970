// The Envoy API protos and the ADS gRPC method, for both ends of the stream (our server, and the
// protocol tests' client). Why protobufjs rather than proto-loader: docs/xds.md.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { ServiceDefinition } from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { z } from "zod";
import { formatIssues, PipelineError } from "../lib/errors.ts";

export const TYPE = {
  listener: "type.googleapis.com/envoy.config.listener.v3.Listener",
  route: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
  cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
  endpoint: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
} as const;
export type TypeUrl = (typeof TYPE)[keyof typeof TYPE];
export const TYPE_URLS: readonly TypeUrl[] = [TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route];

/** Short names for logs and status: CDS, EDS, LDS, RDS. */
export const SHORT: Record<TypeUrl, string> = {
  [TYPE.listener]: "LDS",
  [TYPE.route]: "RDS",
  [TYPE.cluster]: "CDS",
  [TYPE.endpoint]: "EDS",
};

export function isTypeUrl(value: string): value is TypeUrl {
  return (TYPE_URLS as readonly string[]).includes(value);
}

/** A resource in protobuf JSON form with its type: `{"@type": TYPE.cluster, name: ..., ...}`. */
export type Resource = { "@type": TypeUrl } & Record<string, unknown>;

/** The resource's name, as xDS subscriptions name it. */
export function resourceName(r: Resource): string {
  const name = r["@type"] === TYPE.endpoint ? r.cluster_name : r.name;
  if (typeof name !== "string" || name === "") throw new Error(`${SHORT[r["@type"]]} resource without a name`);
  return name;
}

// Every file a resource of ours may reference through an Any (typed_config and the like) must be
// loaded, or protobufjs cannot pack it.
const FILES = [
  "envoy/service/discovery/v3/ads.proto",
  "envoy/config/cluster/v3/cluster.proto",
  "envoy/config/listener/v3/listener.proto",
  "envoy/config/route/v3/route.proto",
  "envoy/config/endpoint/v3/endpoint.proto",
  "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
  "envoy/extensions/filters/http/router/v3/router.proto",
  "envoy/extensions/filters/http/grpc_stats/v3/config.proto",
  "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto",
  "envoy/config/trace/v3/zipkin.proto",
  "envoy/extensions/access_loggers/stream/v3/stream.proto",
  "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
  "envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto",
];

function includeDirs(): string[] {
  const require = createRequire(import.meta.url);
  const xds = join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
  // google/protobuf/descriptor.proto (for the validate and udpa annotations) ships with protobufjs.
  const pb = dirname(require.resolve("protobufjs/package.json"));
  return [...["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(xds, d)), pb];
}

let loaded: protobuf.Root | undefined;

/** The Envoy API, loaded once (about 0.4 s). */
export function envoyApi(): protobuf.Root {
  if (loaded) return loaded;
  const dirs = includeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const d of dirs) {
      const p = join(d, target);
      if (existsSync(p)) return p;
    }
    return target;
  };
  root.loadSync(FILES, { keepCase: true });
  root.resolveAll();
  loaded = root;
  return root;
}

const TO_OBJECT: protobuf.IConversionOptions = { json: true, enums: String, longs: Number, arrays: true };

export class ResourceShapeError extends PipelineError {
  override name = "ResourceShapeError";
}

/**
 * protobufjs' fromObject drops fields it does not know; a misspelt field would silently vanish
 * from what Envoy receives. This walk rejects any key the message type (or an Any's packed type)
 * does not have, naming its path.
 */
function checkFields(type: protobuf.Type, value: unknown, path: string): void {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ResourceShapeError(`${path}: expected an object for ${type.fullName.slice(1)}`);
  }
  let target = type;
  const obj = value as Record<string, unknown>;
  if (type.fullName === ".google.protobuf.Any") {
    const url = obj["@type"];
    if (typeof url !== "string") throw new ResourceShapeError(`${path}: an Any without "@type"`);
    const packed = envoyApi().lookup(url.replace(/^.*\//, ""));
    if (!(packed instanceof protobuf.Type)) throw new ResourceShapeError(`${path}: unknown type ${url}`);
    target = packed;
  }
  for (const [key, v] of Object.entries(obj)) {
    if (key === "@type") continue;
    const field = target.fields[key];
    if (!field) throw new ResourceShapeError(`${path}.${key}: no such field in ${target.fullName.slice(1)}`);
    const fieldType = field.resolve().resolvedType;
    if (!(fieldType instanceof protobuf.Type)) continue;
    const wrapper = /^\.google\.protobuf\.(Bool|U?Int(32|64)|Double|Float|String|Bytes)Value$/.test(fieldType.fullName);
    if (wrapper && (v === null || typeof v !== "object")) {
      throw new ResourceShapeError(`${path}.${key}: a ${fieldType.name} is written { value: ... }`);
    }
    const items = field.map ? Object.values(v as object) : field.repeated ? (v as unknown[]) : [v];
    for (const [i, item] of items.entries())
      checkFields(fieldType, item, field.repeated || field.map ? `${path}.${key}[${i}]` : `${path}.${key}`);
  }
}

function messageOf(r: Resource): protobuf.Message {
  const type = envoyApi().lookupType(r["@type"].replace(/^.*\//, ""));
  const { "@type": _, ...fields } = r;
  checkFields(type, fields, `${SHORT[r["@type"]] ?? r["@type"]} ${String(r.name ?? r.cluster_name ?? "")}`);
  return type.fromObject(fields);
}

/** Deterministic bytes of a resource (what the cache compares); rejects unknown fields. */
export function encodeResource(r: Resource): Uint8Array {
  const message = messageOf(r);
  return (message.$type as protobuf.Type).encode(message).finish();
}

// --- DiscoveryRequest / DiscoveryResponse --------------------------------------------------------

const statusSchema = z.object({ code: z.number().int().optional(), message: z.string().optional() });

/** What the server reads from a DiscoveryRequest (parsed: it is external input). */
export const discoveryRequestSchema = z.object({
  version_info: z.string().default(""),
  node: z
    .object({ id: z.string().default(""), cluster: z.string().default("") })
    .passthrough()
    .optional(),
  resource_names: z.array(z.string()).default([]),
  type_url: z.string().default(""),
  response_nonce: z.string().default(""),
  error_detail: statusSchema.passthrough().optional(),
});
export type DiscoveryRequest = z.infer<typeof discoveryRequestSchema>;
export type DiscoveryRequestIn = z.input<typeof discoveryRequestSchema>;

export const discoveryResponseSchema = z.object({
  version_info: z.string().default(""),
  resources: z.array(z.object({ "@type": z.string() }).passthrough()).default([]),
  type_url: z.string(),
  nonce: z.string().default(""),
});
export type DiscoveryResponse = {
  version_info: string;
  resources: Resource[];
  type_url: TypeUrl;
  nonce: string;
};
export type DiscoveryResponseOut = z.infer<typeof discoveryResponseSchema>;

export class ProtocolError extends PipelineError {
  override name = "ProtocolError";
}

function codec<In, Out>(typeName: string, schema: z.ZodType<Out>) {
  const type = () => envoyApi().lookupType(typeName);
  return {
    serialize: (m: In): Buffer =>
      Buffer.from(
        type()
          .encode(type().fromObject(m as Record<string, unknown>))
          .finish(),
      ),
    deserialize: (b: Buffer): Out => {
      const raw = type().toObject(type().decode(b), TO_OBJECT);
      const parsed = schema.safeParse(raw);
      if (!parsed.success) throw new ProtocolError(`${typeName}: ${formatIssues(parsed.error)}`);
      return parsed.data;
    },
  };
}

const request = codec<DiscoveryRequestIn, DiscoveryRequest>("envoy.service.discovery.v3.DiscoveryRequest", discoveryRequestSchema);
const response = codec<DiscoveryResponse, DiscoveryResponseOut>("envoy.service.discovery.v3.DiscoveryResponse", discoveryResponseSchema);

/** The one ADS method (envoy.service.discovery.v3.AggregatedDiscoveryService), for grpc-js. */
export const adsService = {
  StreamAggregatedResources: {
    path: "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
    requestStream: true,
    responseStream: true,
    requestSerialize: request.serialize,
    requestDeserialize: request.deserialize,
    responseSerialize: response.serialize,
    responseDeserialize: response.deserialize,
    originalName: "streamAggregatedResources",
  },
} satisfies ServiceDefinition;
