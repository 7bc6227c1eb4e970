// How errors are put into words: one line a person can act on.
import type { z } from "zod";

/** The message of anything thrown (an Error's message, else its string form). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The first line of a failure's message, without a stack: what happened, in the error's words. */
export function errorLine(err: unknown): string {
  return errorMessage(err).split("\n")[0] ?? "";
}

/**
 * Renders zod issues as `field.path: message; ...` (`(root)` for the value itself). `prefix` names
 * where the value sat (e.g. `location` for a header), so the path reads from there.
 */
export function formatIssues(error: z.ZodError, prefix = ""): string {
  return error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter((p) => p !== "").join(".");
      return `${path === "" ? "(root)" : path}: ${issue.message}`;
    })
    .join("; ");
}
