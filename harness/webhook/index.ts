// The webhook receiver's front door: what the rest of the harness (the CLI) and users of the
// library use. The modules behind it are described in README.md beside this file.

// Commands: `envoy-pipeline webhook` and `envoy-pipeline runs`.
export { registerWebhookCommands, type WebhookCliDeps } from "./cli.ts";

// The receiver put together (store → scheduler → receiver → HTTP endpoint).
export { startWebhook, type WebhookApp, type WebhookOptions } from "./app.ts";

// Configuration from flags and the environment, and the known failures.
export {
  jenkinsFromEnv,
  localCommandFromEnv,
  parseWebhookFlags,
  secretsFromEnv,
  WEBHOOK_PATH,
  type JenkinsSettings,
  type WebhookFlags,
} from "./config.ts";
export { ListenError, StateError, WebhookConfigError } from "./errors.ts";

// What runs the pipeline for a push.
export { DryRunTrigger } from "./triggers/dry-run.ts";
export { JenkinsTrigger, type JenkinsTriggerOptions } from "./triggers/jenkins.ts";
export { defaultLocalCommand, LocalTrigger, type LocalTriggerOptions } from "./triggers/local.ts";
export { buildTag, type RunRequest, type RunResult, type Trigger } from "./triggers/types.ts";

// The record of deliveries and runs (`runs --json` prints deliveryViewSchema's shape).
export { DEFAULT_STATE_DIR, statePaths, type StatePaths } from "./paths.ts";
export { formatRunsTable, runsJsonSchema, type RunsJson } from "./runs.ts";
export { deliveryViewSchema, runViewSchema, type DeliveryView, type RunView } from "./state.ts";
export { DeliveryStore, readDeliveries } from "./store.ts";

// GitHub's X-Hub-Signature-256.
export { SIGNATURE_HEADER, SignatureVerifier, signBody } from "./signature.ts";
