import type { z } from "zod";

/** Bad configuration (flags, environment): the CLI reports the message and exits with status 2. */
export class WebhookConfigError extends Error {
  override name = "WebhookConfigError";
}

/** The state directory cannot be used (corrupt record, locked by another receiver, ...). */
export class StateError extends Error {
  override name = "StateError";
}

/** Renders zod issues as `field.path: message; ...` (`(root)` for the value itself). */
export function formatIssues(error: z.ZodError, prefix = ""): string {
  return error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter((p) => p !== "").join(".");
      return `${path === "" ? "(root)" : path}: ${issue.message}`;
    })
    .join("; ");
}

/** The HTTP port cannot be opened (in use, not permitted, bad address). */
export class ListenError extends Error {
  override name = "ListenError";
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
