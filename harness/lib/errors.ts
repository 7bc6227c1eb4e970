// How errors are put into words: one line a person can act on.
import type { z } from "zod";

/**
 * The one error shape of the harness (as octokit/webhooks.js has one): every error the harness
 * throws on purpose extends it, and the CLI turns `exitCode` into the process's exit code.
 */
export class PipelineError extends Error {
  override name = "PipelineError";
  /** 1: the pipeline failed; 2: bad input (see InputError). */
  readonly exitCode: number = 1;
}

/** Bad input (a config value, a flag, verify's inputs): exit code 2, as for a bad flag. */
export class InputError extends PipelineError {
  override name = "InputError";
  override readonly exitCode: number = 2;
}

/** The exit code for anything thrown: a PipelineError's own, else 1. */
export function exitCodeOf(err: unknown): number {
  return err instanceof PipelineError ? err.exitCode : 1;
}

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
