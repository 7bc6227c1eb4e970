// The webhook receiver's known failures: each is reported as one line, with its own exit status.
/** Bad configuration (flags, environment): the CLI reports the message and exits with status 2. */
export class WebhookConfigError extends Error {
  override name = "WebhookConfigError";
}

/** The state directory cannot be used (corrupt record, locked by another receiver, ...). */
export class StateError extends Error {
  override name = "StateError";
}

/** The HTTP port cannot be opened (in use, not permitted, bad address). */
export class ListenError extends Error {
  override name = "ListenError";
}
