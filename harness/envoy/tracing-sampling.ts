// Envoy's tracing sampling rate as a pipeline setting (config tracing.sampling, whole percent), set
// at deploy through the runtime key tracing.random_sampling. Why, and what Envoy does: docs/observability.md.
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
