// What the scheduler hands a trigger and what it gets back.
import type { RunOutcome } from "../state.ts";

export interface RunRequest {
  readonly deliveryId: string;
  readonly repository: string;
  readonly branch: string;
  readonly commit: string;
  /** Run number, increasing over the life of the state directory. */
  readonly run: number;
  /** `envoy-pipeline-webhook-<short sha>-<run>`; the pipeline derives its compose project from it. */
  readonly buildTag: string;
}

export interface RunResult {
  readonly outcome: RunOutcome;
  readonly reason: string | null;
  readonly exitCode?: number | null;
  readonly signal?: string | null;
  /** Jenkins' queue item URL (the Location of the 201). */
  readonly queueLocation?: string;
  readonly logFile?: string;
  /** What would have been triggered (dry run). */
  readonly plan?: Record<string, unknown>;
}

export interface Trigger {
  readonly kind: "local" | "jenkins";
  /** What `run` would do, without secrets (recorded by --dry-run). */
  describe(request: RunRequest): Record<string, unknown>;
  /**
   * Runs or triggers the pipeline. Resolves (never rejects) with the outcome; when `signal` is
   * aborted the trigger stops its work and resolves with `interrupted`.
   */
  run(request: RunRequest, signal: AbortSignal): Promise<RunResult>;
  /** Called once before the first run after start-up (e.g. wait for an orphan of a crash). */
  recover?(signal: AbortSignal): Promise<void>;
}

export function buildTag(commit: string, run: number): string {
  return `envoy-pipeline-webhook-${commit.slice(0, 7)}-${run}`;
}
