// Everything the receiver reads from the environment and its flags, parsed with zod so that a bad
// value is reported with the name of the variable or flag it came from.
import { z } from "zod";
import { formatIssues } from "../lib/errors.ts";
import { WebhookConfigError } from "./errors.ts";
import { remoteProblem } from "./git.ts";

/** Default body limit: pushes are far smaller than GitHub's cap (docs/webhook.md). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** GitHub caps webhook payloads at 25 MB: the largest `--max-body-bytes` accepted. */
export const GITHUB_MAX_BODY_BYTES = 25 * 1024 * 1024;

/** Bounds of the HTTP side besides the body limit (docs/webhook.md says why these). */
export const DEFAULT_HTTP_LIMITS = {
  /** Bytes of all bodies held at once while being read. */
  inFlightBytes: 32 * 1024 * 1024,
  /** Open connections at once. */
  maxConnections: 256,
  /** GitHub gives up on a delivery after 10 s; these bound what a slow client can hold. */
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
} as const;

/** Where GitHub should POST: the path Jenkins' GitHub plugin listens on too. */
export const WEBHOOK_PATH = "/github-webhook/";

export type TriggerKind = "local" | "jenkins";

/**
 * The webhook secrets, current first. `GITHUB_WEBHOOK_SECRET` is taken literally (it may contain
 * commas); `GITHUB_WEBHOOK_SECRETS` is a comma-separated list for rotation (`new,old`). Both may be
 * set; every secret is tried. Refuses to return an empty list.
 */
export function secretsFromEnv(env: NodeJS.ProcessEnv): string[] {
  const secrets: string[] = [];
  const single = env.GITHUB_WEBHOOK_SECRET;
  if (single !== undefined && single !== "") {
    if (single.trim() === "") throw new WebhookConfigError("GITHUB_WEBHOOK_SECRET: is only whitespace");
    secrets.push(single);
  }
  const list = env.GITHUB_WEBHOOK_SECRETS;
  if (list !== undefined && list.trim() !== "") {
    list.split(",").forEach((raw, i) => {
      const secret = raw.trim();
      if (secret === "") throw new WebhookConfigError(`GITHUB_WEBHOOK_SECRETS: entry ${i + 1} is empty`);
      if (!secrets.includes(secret)) secrets.push(secret);
    });
  }
  if (secrets.length === 0) {
    throw new WebhookConfigError(
      "refusing to start without a webhook secret: set GITHUB_WEBHOOK_SECRET " +
        "(or GITHUB_WEBHOOK_SECRETS=new,old while rotating) to the secret configured on the GitHub webhook",
    );
  }
  return secrets;
}

export interface JenkinsSettings {
  /** Base URL, always ending with `/` (it may carry a context path such as `/jenkins/`). */
  readonly url: URL;
  readonly user: string;
  readonly apiToken: string;
  /** Job name; folders as `a/b`; a `{branch}` segment stands for the pushed branch's job in a multibranch project. */
  readonly job: string;
}

const jobSchema = z
  .string()
  .min(1, "is empty")
  .refine((job) => job.split("/").every((part) => part.trim() !== ""), "has an empty folder segment (use a/b)")
  .refine(
    (job) => job.split("/").every((part) => part !== "." && part !== ".."),
    "has a '.' or '..' segment, which would address another job",
  )
  .refine(
    (job) => job.split("/").every((part) => part === "{branch}" || !/[{}]/.test(part)),
    "has a brace outside a whole {branch} segment (use folder/multibranch/{branch})",
  );

/** Hosts to which the API token may go over plain http (it never leaves the machine). */
function loopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** The user: JENKINS_USER, or JENKINS_USER_ID (the name Jenkins' own CLI reads); both set must agree. */
function jenkinsUser(env: NodeJS.ProcessEnv): string | undefined {
  const user = (env.JENKINS_USER ?? "").trim();
  const userId = (env.JENKINS_USER_ID ?? "").trim();
  if (user !== "" && userId !== "" && user !== userId) {
    throw new WebhookConfigError(`JENKINS_USER (${user}) and JENKINS_USER_ID (${userId}) name different users; set one`);
  }
  return (user || userId) === "" ? undefined : env.JENKINS_USER || env.JENKINS_USER_ID;
}

/**
 * Reads `JENKINS_URL`, `JENKINS_USER` (or `JENKINS_USER_ID`), `JENKINS_API_TOKEN` and the job flag;
 * names every missing variable at once. A plain-http URL is refused unless it is loopback or
 * `allowInsecure` (the token would cross the network in clear text).
 */
export function jenkinsFromEnv(env: NodeJS.ProcessEnv, job: string | undefined, allowInsecure = false): JenkinsSettings {
  const user = jenkinsUser(env);
  const missing = [
    ...((env.JENKINS_URL ?? "").trim() === "" ? ["JENKINS_URL"] : []),
    ...(user === undefined ? ["JENKINS_USER (or JENKINS_USER_ID)"] : []),
    ...((env.JENKINS_API_TOKEN ?? "").trim() === "" ? ["JENKINS_API_TOKEN"] : []),
  ];
  const problems: string[] = [];
  if (missing.length > 0) problems.push(`missing environment variable${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
  if (job === undefined) problems.push("missing --jenkins-job <name>");
  if (problems.length > 0) throw new WebhookConfigError(`--trigger jenkins: ${problems.join("; ")}`);
  const jobParsed = jobSchema.safeParse(job);
  if (!jobParsed.success) throw new WebhookConfigError(`--jenkins-job '${job}': ${formatIssues(jobParsed.error)}`);
  let url: URL;
  try {
    url = new URL(env.JENKINS_URL as string);
  } catch {
    throw new WebhookConfigError(`JENKINS_URL: '${env.JENKINS_URL}' is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new WebhookConfigError(`JENKINS_URL: '${env.JENKINS_URL}' must be http:// or https://`);
  }
  if (url.protocol === "http:" && !loopback(url.hostname) && !allowInsecure) {
    throw new WebhookConfigError(
      `JENKINS_URL: '${url.origin}' is plain http, which would send JENKINS_API_TOKEN in clear text; ` +
        "use https:// (or --allow-insecure-jenkins on a network you trust)",
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw new WebhookConfigError("JENKINS_URL: must not carry credentials; use JENKINS_USER and JENKINS_API_TOKEN");
  }
  url.search = "";
  url.hash = "";
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return { url, user: user as string, apiToken: env.JENKINS_API_TOKEN as string, job: jobParsed.data };
}

const localCommandSchema = z.array(z.string().min(1, "is empty")).min(1, "must name a program");

/**
 * `ENVOY_PIPELINE_LOCAL_COMMAND`: a JSON array `["program", "arg", ...]` replacing the local
 * trigger's default command (used by tests; no shell is involved, so nothing needs quoting).
 */
export function localCommandFromEnv(env: NodeJS.ProcessEnv): string[] | undefined {
  const raw = env.ENVOY_PIPELINE_LOCAL_COMMAND;
  if (raw === undefined || raw.trim() === "") return undefined;
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (err) {
    throw new WebhookConfigError(
      `ENVOY_PIPELINE_LOCAL_COMMAND: not JSON (${(err as Error).message}); expected an array like ["node","script.js"]`,
    );
  }
  const parsed = localCommandSchema.safeParse(data);
  if (!parsed.success) {
    throw new WebhookConfigError(
      `ENVOY_PIPELINE_LOCAL_COMMAND: ${formatIssues(parsed.error)}; expected an array like ["node","script.js"]`,
    );
  }
  return parsed.data;
}

/** Flags of `envoy-pipeline webhook`, as commander hands them over (strings), checked here. */
export const webhookFlagsSchema = z
  .object({
    port: z.coerce.number().int("must be a whole number").min(0).max(65535),
    host: z.string().min(1),
    branch: z.array(z.string()).default([]),
    repository: z.array(z.string()).default([]),
    trigger: z.enum(["local", "jenkins"]),
    dryRun: z.boolean().default(false),
    allowInsecureJenkins: z.boolean().default(false),
    stateDir: z.string().min(1),
    jenkinsJob: z.string().optional(),
    gitRepository: z.string().min(1, "is empty").optional(),
    gitRemote: z.string().optional(),
    maxBodyBytes: z.coerce
      .number()
      .int("must be a whole number")
      .min(1024)
      .max(GITHUB_MAX_BODY_BYTES, `must be at most ${GITHUB_MAX_BODY_BYTES} (GitHub's payload cap)`)
      .default(DEFAULT_MAX_BODY_BYTES),
    maxConnections: z.coerce.number().int("must be a whole number").min(1).max(65_536).default(DEFAULT_HTTP_LIMITS.maxConnections),
    maxInFlightBytes: z.coerce
      .number()
      .int("must be a whole number")
      .min(1024)
      .max(4 * 1024 * 1024 * 1024)
      .default(DEFAULT_HTTP_LIMITS.inFlightBytes),
  })
  .transform((flags, ctx) => {
    const branches: string[] = [];
    for (const raw of flags.branch) {
      const name = raw.trim().replace(/^refs\/heads\//, "");
      if (name === "" || /\s/.test(name)) {
        ctx.addIssue({ code: "custom", path: ["branch"], message: `'${raw}' is not a branch name` });
      } else if (!branches.includes(name)) branches.push(name);
    }
    const repositories: string[] = [];
    for (const raw of flags.repository) {
      if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(raw.trim())) {
        ctx.addIssue({ code: "custom", path: ["repository"], message: `'${raw}' is not owner/name` });
      } else repositories.push(raw.trim());
    }
    if (flags.gitRemote !== undefined) {
      const problem = remoteProblem(flags.gitRemote);
      if (problem) ctx.addIssue({ code: "custom", path: ["gitRemote"], message: `'${flags.gitRemote}' ${problem}` });
    }
    if (flags.maxInFlightBytes < flags.maxBodyBytes) {
      ctx.addIssue({ code: "custom", path: ["maxInFlightBytes"], message: "must be at least --max-body-bytes" });
    }
    if (flags.trigger !== "local") {
      for (const key of ["gitRepository", "gitRemote"] as const) {
        if (flags[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: "is only for --trigger local" });
      }
    }
    return { ...flags, branches, repositories };
  });

export type WebhookFlags = z.output<typeof webhookFlagsSchema>;

/** Maps zod paths of the flag schema back to the flag names users typed. */
const flagNames: Record<string, string> = {
  port: "--port",
  host: "--host",
  branch: "--branch",
  repository: "--repository",
  trigger: "--trigger",
  stateDir: "--state-dir",
  jenkinsJob: "--jenkins-job",
  gitRepository: "--git-repository",
  gitRemote: "--git-remote",
  maxBodyBytes: "--max-body-bytes",
  maxConnections: "--max-connections",
  maxInFlightBytes: "--max-in-flight-bytes",
};

export function parseWebhookFlags(raw: unknown): WebhookFlags {
  const parsed = webhookFlagsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new WebhookConfigError(
      parsed.error.issues.map((issue) => `${flagNames[String(issue.path[0])] ?? issue.path.join(".")}: ${issue.message}`).join("; "),
    );
  }
  return parsed.data;
}
