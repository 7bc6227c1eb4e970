// The jenkins trigger: Jenkins' remote build API.
// Design notes: docs/webhook.md ("webhook/triggers/jenkins.ts").
import { z } from "zod";
import type { JenkinsSettings } from "../config.ts";
import { errorMessage, formatIssues } from "../../lib/errors.ts";
import { request } from "../../lib/http.ts";
import { type Logger, silentLogger } from "../../lib/log.ts";
import { printable } from "../../lib/printable.ts";
import type { RunRequest, RunResult, Trigger } from "./types.ts";

class JenkinsFailure extends Error {}

/** In --jenkins-job, the segment that stands for the pushed branch's job of a multibranch project. */
export const BRANCH_SEGMENT = "{branch}";

/** Characters Jenkins would also encode in a branch job's name; not supported, so refused. */
const UNSUPPORTED_IN_BRANCH = /[?#\\:*|"<>]/;

/**
 * The name a multibranch project gives the job of `branch`: `/` and `%` percent-encoded, so that
 * `feature/x` is the job `feature%2Fx` (branch-api's NameEncoder). undefined for a branch name
 * holding other characters Jenkins encodes, so that no push can queue some other job.
 */
export function multibranchJobName(branch: string): string | undefined {
  // "." and ".." would resolve to this folder or its parent in the job URL.
  if (branch === "" || branch === "." || branch === ".." || UNSUPPORTED_IN_BRANCH.test(branch)) return undefined;
  return branch.replace(/%/g, "%25").replace(/\//g, "%2F");
}

/**
 * `a/b` → `job/a/job/b/` (each segment URL-encoded). A `{branch}` segment becomes the job of
 * `branch` in a multibranch project: `team/app/{branch}` with `feature/x` → `job/team/job/app/job/feature%252Fx/`.
 */
export function jobPath(job: string, branch?: string): string {
  return `${jobName(job, branch)
    .map((part) => `job/${encodeURIComponent(part)}`)
    .join("/")}/`;
}

/** The job's name segments, with `{branch}` replaced; throws when the branch has no job name. */
export function jobName(job: string, branch?: string): string[] {
  return job.split("/").map((part) => {
    if (part !== BRANCH_SEGMENT) return part;
    const name = branch === undefined ? undefined : multibranchJobName(branch);
    if (name === undefined)
      throw new JenkinsFailure(`branch '${printable(branch ?? "")}' has no multibranch job name that --jenkins-job ${job} can address`);
    return name;
  });
}

export const crumbSchema = z.looseObject({
  crumb: z.string().min(1),
  crumbRequestField: z.string().min(1),
});

const headerValue = z.union([z.string(), z.array(z.string())]).optional();
const locationSchema = z.string().min(1, "is empty");

/** `Set-Cookie` values → the `Cookie` request header (name=value pairs only). */
export function cookieHeader(setCookie: string | string[] | undefined): string | undefined {
  const list = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
  const pairs = list.map((c) => c.split(";")[0]?.trim() ?? "").filter((pair) => pair.includes("="));
  return pairs.length > 0 ? pairs.join("; ") : undefined;
}

/** The start of a response body, readable in one line (Jenkins error pages are HTML). */
function snippet(text: string, max = 300): string {
  const plain = text
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, " ")
    .replace(/<[^>]*>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  if (plain === "") return "(empty body)";
  return plain.length > max ? `${plain.slice(0, max)}…` : plain;
}

export interface JenkinsTriggerOptions {
  readonly settings: JenkinsSettings;
  /** Per HTTP request; default 30 s. */
  readonly timeoutMs?: number;
  readonly log?: Logger;
}

export class JenkinsTrigger implements Trigger {
  readonly kind = "jenkins" as const;
  readonly #settings: JenkinsSettings;
  readonly #timeoutMs: number;
  readonly #log: Logger;

  constructor(options: JenkinsTriggerOptions) {
    this.#settings = options.settings;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#log = options.log ?? silentLogger;
  }

  get crumbUrl(): URL {
    return new URL("crumbIssuer/api/json", this.#settings.url);
  }

  /** buildWithParameters of the job for `branch` (the job itself unless it has a {branch} segment). */
  buildUrl(branch: string): URL {
    return new URL(`${jobPath(this.#settings.job, branch)}buildWithParameters`, this.#settings.url);
  }

  describe(request: RunRequest): Record<string, unknown> {
    let url: string;
    try {
      url = this.buildUrl(request.branch).href;
    } catch (err) {
      url = `(none: ${errorMessage(err)})`;
    }
    return {
      trigger: "jenkins",
      url,
      user: this.#settings.user,
      params: { COMMIT: request.commit, BRANCH: request.branch },
    };
  }

  async run(req: RunRequest, signal: AbortSignal): Promise<RunResult> {
    const auth = `Basic ${Buffer.from(`${this.#settings.user}:${this.#settings.apiToken}`).toString("base64")}`;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const both = AbortSignal.any([signal, timeout]);
    try {
      const url = this.buildUrl(req.branch);
      const headers: Record<string, string> = { authorization: auth };
      const crumb = await this.#crumb(auth, both);
      if (crumb) {
        headers[crumb.field] = crumb.value;
        if (crumb.cookie) headers.cookie = crumb.cookie;
      }
      const res = await request("POST", url, {
        headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ COMMIT: req.commit, BRANCH: req.branch }).toString(),
        signal: both,
        timeoutMs: this.#timeoutMs,
      });
      if (res.status !== 201) {
        const location = headerValue.safeParse(res.headers.location);
        const redirected = res.status >= 300 && res.status < 400 && location.success && location.data;
        const where = redirected ? ` (redirect to ${String(location.data)}; is JENKINS_URL right?)` : "";
        throw new JenkinsFailure(`Jenkins answered ${res.status} to POST ${url.href}${where}: ${snippet(res.text)}`);
      }
      const location = locationSchema.safeParse(res.headers.location);
      if (!location.success) {
        throw new JenkinsFailure(
          `Jenkins answered 201 to POST ${url.href} without a usable Location header (${formatIssues(location.error, "location")}); ` +
            "the build may have been queued",
        );
      }
      const queueLocation = new URL(location.data, url).href;
      this.#log.info(
        `run #${req.run}: Jenkins queued ${jobName(this.#settings.job, req.branch).join("/")} ` +
          `for ${printable(req.branch)} @ ${req.commit.slice(0, 7)}: ${queueLocation}`,
      );
      return { outcome: "triggered", reason: null, queueLocation };
    } catch (err) {
      if (err instanceof JenkinsFailure) return { outcome: "failed", reason: err.message };
      if (signal.aborted) return { outcome: "interrupted", reason: "the receiver stopped while calling Jenkins" };
      if (timeout.aborted) return { outcome: "failed", reason: `Jenkins did not answer within ${this.#timeoutMs / 1000}s` };
      return { outcome: "failed", reason: `cannot reach Jenkins at ${this.#settings.url.href}: ${errorMessage(err)}` };
    }
  }

  /** The crumb, or undefined when Jenkins has CSRF protection off (the issuer answers 404). */
  async #crumb(auth: string, signal: AbortSignal): Promise<{ field: string; value: string; cookie?: string } | undefined> {
    const url = this.crumbUrl;
    const res = await request("GET", url, {
      headers: { authorization: auth, accept: "application/json" },
      signal,
      timeoutMs: this.#timeoutMs,
    });
    const text = res.text;
    if (res.status === 404) {
      this.#log.info(`${url.href} answered 404: Jenkins has CSRF protection off; posting without a crumb`);
      return undefined;
    }
    if (res.status === 401 || res.status === 403) {
      throw new JenkinsFailure(
        `Jenkins refused JENKINS_USER=${this.#settings.user} with JENKINS_API_TOKEN (${res.status} from GET ${url.href}): ${snippet(text)}`,
      );
    }
    if (res.status !== 200) throw new JenkinsFailure(`Jenkins answered ${res.status} to GET ${url.href}: ${snippet(text)}`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new JenkinsFailure(`the crumb issuer ${url.href} did not answer JSON: ${snippet(text)}`);
    }
    const parsed = crumbSchema.safeParse(json);
    if (!parsed.success) throw new JenkinsFailure(`the crumb issuer ${url.href} answered ${formatIssues(parsed.error)}`);
    const setCookie = headerValue.safeParse(res.headers["set-cookie"]);
    const cookie = cookieHeader(setCookie.success ? setCookie.data : undefined);
    return { field: parsed.data.crumbRequestField, value: parsed.data.crumb, ...(cookie ? { cookie } : {}) };
  }
}
