// What GitHub sent, parsed: the delivery headers, the body (JSON or form-encoded `payload=`), and
// the few payload fields we rely on, each checked with zod. `classify` then decides what the
// delivery means for us: a ping, a push to build, or something to ignore (with the reason).
import type { IncomingHttpHeaders } from "node:http";
import { emitterEventNames } from "@octokit/webhooks";
import { z } from "zod";
import { formatIssues } from "../lib/errors.ts";

/** Event names GitHub sends in X-GitHub-Event, as known to @octokit/webhooks (without actions). */
export const knownEventNames: ReadonlySet<string> = new Set(emitterEventNames.filter((name) => !name.includes(".")));

const deliveryIdSchema = z
  .string()
  .min(1, "is empty")
  .max(128, "is longer than 128 characters")
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, "has characters other than letters, digits, '.', '_', ':' and '-'");

/** Any event name of GitHub's form: one GitHub adds after the pinned @octokit/webhooks is ignored, not refused. */
const eventNameSchema = z
  .string()
  .min(1, "is empty")
  .max(64, "is longer than 64 characters")
  .regex(/^[a-z][a-z0-9_]*$/, "is not an event name (lower-case letters, digits and '_')");

export const deliveryHeadersSchema = z.object({
  "x-github-event": eventNameSchema,
  "x-github-delivery": deliveryIdSchema,
});

const headerLabels: Record<string, string> = {
  "x-github-event": "X-GitHub-Event",
  "x-github-delivery": "X-GitHub-Delivery",
};

export type Parsed<T> = { ok: true; value: T } | { ok: false; status: number; reason: string };

export function parseDeliveryHeaders(headers: IncomingHttpHeaders): Parsed<{ event: string; id: string }> {
  const raw: Record<string, unknown> = {};
  for (const name of Object.keys(headerLabels)) {
    const value = headers[name];
    raw[name] = Array.isArray(value) ? value.join(",") : value;
  }
  const parsed = deliveryHeadersSchema.safeParse(raw);
  if (!parsed.success) {
    const reason = parsed.error.issues
      .map((issue) => {
        const label = headerLabels[String(issue.path[0])] ?? String(issue.path[0]);
        return issue.code === "invalid_type" ? `missing ${label} header` : `${label} ${issue.message}`;
      })
      .join("; ");
    return { ok: false, status: 400, reason };
  }
  return { ok: true, value: { event: parsed.data["x-github-event"], id: parsed.data["x-github-delivery"] } };
}

/**
 * The JSON document GitHub sent. GitHub webhooks use `application/json` or, when so configured,
 * `application/x-www-form-urlencoded` with the JSON in a `payload` field; the signature covers the
 * raw body in both cases.
 */
export function decodePayload(body: Buffer, contentType: string | undefined): Parsed<unknown> {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  let text: string;
  if (type === "application/json") {
    text = body.toString("utf8");
  } else if (type === "application/x-www-form-urlencoded") {
    const payload = new URLSearchParams(body.toString("utf8")).get("payload");
    if (payload === null) return { ok: false, status: 400, reason: "form-encoded body has no 'payload' field" };
    text = payload;
  } else {
    return {
      ok: false,
      status: 415,
      reason: `Content-Type '${contentType ?? "(none)"}' is not application/json or application/x-www-form-urlencoded`,
    };
  }
  if (text.trim() === "") return { ok: false, status: 400, reason: "malformed JSON: the body is empty" };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, status: 400, reason: `malformed JSON: ${(err as Error).message}` };
  }
}

const commitIdSchema = z.string().regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, "must be a 40- or 64-digit lower-case hex commit id");

/** The fields of a `push` payload we use; everything else GitHub sends is let through untouched. */
export const pushPayloadSchema = z.looseObject({
  ref: z.string().min(1),
  before: commitIdSchema,
  after: commitIdSchema,
  deleted: z.boolean().optional(),
  repository: z.looseObject({
    full_name: z.string().min(1),
    default_branch: z.string().min(1).optional(),
  }),
});

/** A `ping`, sent when the hook is created: `zen` and `hook_id`; `repository` is absent for org hooks. */
export const pingPayloadSchema = z.looseObject({
  zen: z.string(),
  hook_id: z.number().int(),
  repository: z.looseObject({ full_name: z.string().min(1) }).optional(),
});

/** Any other event: only the repository name is recorded, when there is one. */
export const otherPayloadSchema = z.looseObject({
  repository: z.looseObject({ full_name: z.string() }).nullish().catch(undefined),
});

export interface DeliveryFilters {
  /** Branches that trigger; empty = the repository's default branch from the payload. */
  readonly branches: readonly string[];
  /** Repositories (owner/name, any case) accepted; empty = any. */
  readonly repositories: readonly string[];
}

export interface DeliveryFacts {
  readonly repository: string | null;
  readonly ref: string | null;
  readonly branch: string | null;
  readonly commit: string | null;
}

export type Classified =
  | ({ kind: "ping" } & DeliveryFacts)
  | ({ kind: "ignored"; reason: string } & DeliveryFacts)
  | ({ kind: "push"; branch: string; commit: string; repository: string; ref: string } & DeliveryFacts);

const ZERO_SHA = /^0+$/;

/** Decides what a verified, well-formed delivery means; a payload of the wrong shape is a 400. */
export function classify(event: string, payload: unknown, filters: DeliveryFilters): Parsed<Classified> {
  if (event === "ping") {
    const ping = pingPayloadSchema.safeParse(payload);
    if (!ping.success) return { ok: false, status: 400, reason: `ping payload: ${formatIssues(ping.error)}` };
    return {
      ok: true,
      value: { kind: "ping", repository: ping.data.repository?.full_name ?? null, ref: null, branch: null, commit: null },
    };
  }
  if (event !== "push") {
    const other = otherPayloadSchema.safeParse(payload);
    const repository = other.success ? (other.data.repository?.full_name ?? null) : null;
    const unknown = knownEventNames.has(event) ? "" : " and is not known to the pinned @octokit/webhooks";
    return {
      ok: true,
      value: {
        kind: "ignored",
        reason: `event '${event}' does not trigger a build (only push does)${unknown}`,
        repository,
        ref: null,
        branch: null,
        commit: null,
      },
    };
  }
  const push = pushPayloadSchema.safeParse(payload);
  if (!push.success) return { ok: false, status: 400, reason: `push payload: ${formatIssues(push.error)}` };
  const { ref, after, repository } = push.data;
  const facts = { repository: repository.full_name, ref, commit: after };
  const ignore = (reason: string, branch: string | null = null): Parsed<Classified> => ({
    ok: true,
    value: { kind: "ignored", reason, ...facts, branch },
  });
  if (filters.repositories.length > 0 && !filters.repositories.some((r) => r.toLowerCase() === repository.full_name.toLowerCase())) {
    return ignore(`repository ${repository.full_name} is not one of ${filters.repositories.join(", ")}`);
  }
  if (!ref.startsWith("refs/heads/")) return ignore(`ref ${ref} is not a branch`);
  const branch = ref.slice("refs/heads/".length);
  if (push.data.deleted === true || ZERO_SHA.test(after)) return ignore(`branch ${branch} was deleted`, branch);
  let wanted: readonly string[] = filters.branches;
  if (wanted.length === 0) {
    if (repository.default_branch === undefined) {
      return ignore("no --branch configured and the payload has no repository.default_branch", branch);
    }
    wanted = [repository.default_branch];
  }
  if (!wanted.includes(branch)) {
    const what = filters.branches.length === 0 ? "the default branch" : "a configured branch";
    return ignore(`branch ${branch} is not ${what} (${wanted.join(", ")})`, branch);
  }
  return { ok: true, value: { kind: "push", ...facts, branch } };
}
