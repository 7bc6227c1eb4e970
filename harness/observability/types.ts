import { PipelineError } from "../lib/errors.ts";
// What every observability check returns: the shape the lead folds into the verify report.

export interface ObservabilityCheckResult {
  /** "metrics" or "tracing". */
  name: string;
  /** The compose service the verdict is about, when it is about one. */
  service?: string;
  passed: boolean;
  /** One paragraph: why it passed, or what is wrong and who the culprit is. */
  detail: string;
  /** Numbers behind the verdict (counts, lags in seconds, latencies in ms). */
  metrics?: Record<string, number>;
}

export class ObservabilityError extends PipelineError {
  override name = "ObservabilityError";
}
