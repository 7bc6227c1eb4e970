// Envoy's tracing sampling rate as a pipeline setting (config tracing.sampling, whole percent).
//
// envoy/envoy.yaml keeps Envoy's sandbox default of tracing every request (random_sampling 100),
// so a plain `docker compose up` traces everything. The pipeline sets the rate at deploy through
// the runtime key that overrides the connection manager's random_sampling, tracing.random_sampling,
// in the admin layer (POST /runtime_modify): no templated configuration, no restart, and the value
// can be read back. Measured on Envoy 1.40: an integer runtime value is a percentage (50 traced
// 19 of 40 requests, 5000 all of them, 0 none), as Envoy reads integers for fractional-percent
// keys; finer steps would need a FractionalPercent, which the admin layer cannot take.
//
// Whatever the rate, a request with a sampled B3 context or a lone `x-b3-sampled: 1` is traced
// (Envoy starts the trace ids when they are missing): the tracing check sends those, so it works
// at any rate, including 0.
import type { EnvoyAdmin } from "./admin.ts";

export const SAMPLING_RUNTIME_KEY = "tracing.random_sampling";

export async function applyTracingSampling(admin: EnvoyAdmin, percent: number): Promise<void> {
  if (!(Number.isInteger(percent) && percent >= 0 && percent <= 100))
    throw new RangeError(`tracing sampling must be a whole percentage 0-100, got ${percent}`);
  await admin.setRuntime({ [SAMPLING_RUNTIME_KEY]: percent });
}

/** The rate Envoy runs, in percent; undefined when no runtime layer sets it (envoy.yaml's applies). */
export async function tracingSampling(admin: EnvoyAdmin): Promise<number | undefined> {
  const raw = await admin.runtimeValue(SAMPLING_RUNTIME_KEY);
  return raw === undefined ? undefined : Number(raw);
}
