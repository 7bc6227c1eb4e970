// A small client for Prometheus' HTTP API (/api/v1/query, /api/v1/targets, /-/ready). Every answer
// is parsed with zod; a change in Prometheus' output fails with the endpoint and the field that moved.
import { z } from "zod";
import { errorMessage, formatIssues } from "../lib/errors.ts";
import { getJson, probe } from "../lib/http.ts";
import { pollUntil } from "../lib/poll.ts";
import { ObservabilityError } from "./types.ts";

/** One element of an instant vector (or a scalar, with no labels). */
export interface Sample {
  labels: Record<string, string>;
  /** "NaN", "+Inf" and "-Inf" become NaN, Infinity and -Infinity. */
  value: number;
  /** Evaluation time (seconds since the epoch), as Prometheus reports it. */
  timestamp: number;
}

/** An active scrape target as /api/v1/targets reports it. */
export interface ScrapeTarget {
  job: string;
  /** host:port Prometheus scrapes, e.g. 172.20.0.5:8080 */
  instance: string;
  /** The IP (or name) part of instance. */
  host: string;
  port: number;
  scrapeUrl: string;
  health: "up" | "down" | "unknown";
  /** Empty when the last scrape worked. */
  lastError: string;
  /** Start of the last scrape; undefined before the first one. */
  lastScrape: Date | undefined;
  /** Target labels after relabelling (job, instance, compose_service, ...). */
  labels: Record<string, string>;
}

const labelsSchema = z.record(z.string(), z.string());
/** [unix seconds, "value"]: Prometheus writes sample values as strings. */
const samplePairSchema = z.tuple([z.number(), z.string()]);

const envelopeSchema = z.discriminatedUnion("status", [
  z.object({ status: z.literal("success"), data: z.unknown(), warnings: z.array(z.string()).optional() }),
  z.object({ status: z.literal("error"), errorType: z.string(), error: z.string() }),
]);

const queryDataSchema = z.discriminatedUnion("resultType", [
  z.object({ resultType: z.literal("vector"), result: z.array(z.object({ metric: labelsSchema, value: samplePairSchema })) }),
  z.object({ resultType: z.literal("scalar"), result: samplePairSchema }),
  z.object({ resultType: z.literal("matrix"), result: z.array(z.unknown()) }),
  z.object({ resultType: z.literal("string"), result: samplePairSchema }),
]);

const targetsDataSchema = z.object({
  activeTargets: z.array(
    z.object({
      labels: labelsSchema,
      discoveredLabels: labelsSchema.optional(),
      scrapePool: z.string(),
      scrapeUrl: z.string(),
      lastError: z.string(),
      lastScrape: z.string(),
      health: z.enum(["up", "down", "unknown"]),
    }),
  ),
});

/** Prometheus' sample value strings: numbers plus NaN, +Inf, -Inf. */
export function parseSampleValue(raw: string): number {
  if (raw === "+Inf" || raw === "Inf") return Infinity;
  if (raw === "-Inf") return -Infinity;
  if (raw === "NaN") return NaN;
  const n = Number(raw);
  if (raw.trim() === "" || Number.isNaN(n)) throw new ObservabilityError(`not a sample value: '${raw}'`);
  return n;
}

/** Go's zero time (never scraped) is 0001-01-01T00:00:00Z. */
function parseScrapeTime(raw: string): Date | undefined {
  const t = Date.parse(raw);
  if (Number.isNaN(t) || t <= 0) return undefined;
  return new Date(t);
}

function splitInstance(instance: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(instance);
  if (!m || m[1] === undefined || m[2] === undefined) return { host: instance, port: 0 };
  return { host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) };
}

/** Parses a /api/v1/query answer (already JSON-decoded) into samples; throws naming the bad field. */
export function parseQueryResponse(body: unknown, what: string): Sample[] {
  const envelope = envelopeSchema.safeParse(body);
  if (!envelope.success) throw new ObservabilityError(`${what}: unexpected answer: ${formatIssues(envelope.error)}`);
  if (envelope.data.status === "error") {
    throw new ObservabilityError(`${what}: Prometheus says ${envelope.data.errorType}: ${envelope.data.error}`);
  }
  const data = queryDataSchema.safeParse(envelope.data.data);
  if (!data.success) throw new ObservabilityError(`${what}: unexpected answer: data.${formatIssues(data.error)}`);
  const d = data.data;
  switch (d.resultType) {
    case "vector":
      return d.result.map((r, i) => {
        try {
          return { labels: r.metric, value: parseSampleValue(r.value[1]), timestamp: r.value[0] };
        } catch (err) {
          throw new ObservabilityError(`${what}: data.result.${i}.value.1: ${(err as Error).message}`);
        }
      });
    case "scalar":
      return [{ labels: {}, value: parseSampleValue(d.result[1]), timestamp: d.result[0] }];
    default:
      throw new ObservabilityError(`${what}: expected an instant vector or scalar, got a ${d.resultType}`);
  }
}

/** Parses a /api/v1/targets answer into the active targets. */
export function parseTargetsResponse(body: unknown, what = "GET /api/v1/targets"): ScrapeTarget[] {
  const envelope = envelopeSchema.safeParse(body);
  if (!envelope.success) throw new ObservabilityError(`${what}: unexpected answer: ${formatIssues(envelope.error)}`);
  if (envelope.data.status === "error")
    throw new ObservabilityError(`${what}: Prometheus says ${envelope.data.errorType}: ${envelope.data.error}`);
  const data = targetsDataSchema.safeParse(envelope.data.data);
  if (!data.success) throw new ObservabilityError(`${what}: unexpected answer: data.${formatIssues(data.error)}`);
  return data.data.activeTargets.map((t) => {
    const instance = t.labels.instance ?? t.discoveredLabels?.__address__ ?? "";
    return {
      job: t.labels.job ?? t.scrapePool,
      instance,
      ...splitInstance(instance),
      scrapeUrl: t.scrapeUrl,
      health: t.health,
      lastError: t.lastError,
      lastScrape: parseScrapeTime(t.lastScrape),
      labels: t.labels,
    };
  });
}

export class PrometheusClient {
  constructor(
    /** e.g. http://127.0.0.1:32771 */
    readonly baseUrl: string,
    private readonly timeoutMs = 5000,
  ) {}

  /** The JSON envelope of an API call; errors (400 bad query, 422 execution, 503 timeout) come in it too. */
  private async getJson(path: string, params: Record<string, string> = {}): Promise<unknown> {
    try {
      return await getJson(new URL(path, this.baseUrl), z.unknown(), { params, timeoutMs: this.timeoutMs, acceptStatus: () => true });
    } catch (err) {
      throw new ObservabilityError(`Prometheus ${errorMessage(err)}`);
    }
  }

  /** True when /-/ready answers 200. */
  async ready(): Promise<boolean> {
    return probe(new URL("/-/ready", this.baseUrl), { timeoutMs: this.timeoutMs });
  }

  /** An instant query, evaluated now or at `at`. */
  async query(promql: string, at?: Date): Promise<Sample[]> {
    const params: Record<string, string> = { query: promql };
    if (at) params.time = (at.getTime() / 1000).toFixed(3);
    return parseQueryResponse(await this.getJson("/api/v1/query", params), `query ${promql}`);
  }

  /** Active scrape targets, optionally of some jobs only. */
  async targets(jobs?: readonly string[]): Promise<ScrapeTarget[]> {
    const all = parseTargetsResponse(await this.getJson("/api/v1/targets", { state: "active" }));
    return jobs ? all.filter((t) => jobs.includes(t.job)) : all;
  }

  /**
   * Waits until every active target of `jobs` has been scraped at or after `since`, judged by the
   * timestamp of its `up` sample: `up` is written in the same commit as the scraped series, so once
   * it is newer than `since` the target's counters include everything that happened before `since`.
   * Down targets count as scraped (the attempt happened). Resolves with the oldest and newest of
   * those scrape times; rejects after `timeoutMs` naming the targets still waiting.
   */
  async waitForScrapeAfter(
    since: Date,
    opts: { jobs: readonly string[]; timeoutMs?: number; intervalMs?: number },
  ): Promise<{ oldest: Date; newest: Date }> {
    const timeoutMs = opts.timeoutMs ?? 15_000;
    const jobRe = opts.jobs.map((j) => j.replace(/[^A-Za-z0-9_:-]/g, "")).join("|");
    const sinceSec = since.getTime() / 1000;
    let names = "";
    return pollUntil(
      async () => {
        const targets = await this.targets(opts.jobs);
        const scraped = await this.query(`timestamp(up{job=~"${jobRe}"})`);
        const at = new Map(scraped.map((s) => [`${s.labels.job}|${s.labels.instance}`, s.value]));
        const waiting = targets.filter((t) => (at.get(`${t.job}|${t.instance}`) ?? 0) < sinceSec);
        if (targets.length > 0 && waiting.length === 0) {
          const times = targets.map((t) => at.get(`${t.job}|${t.instance}`) ?? sinceSec);
          return { oldest: new Date(Math.min(...times) * 1000), newest: new Date(Math.max(...times) * 1000) };
        }
        names =
          targets.length === 0
            ? `no active target of job ${opts.jobs.join(", ")}`
            : waiting.map((t) => `${t.job}/${t.instance}`).join(", ");
        return undefined;
      },
      {
        timeoutMs,
        intervalMs: opts.intervalMs ?? 200,
        timeoutError: () =>
          new ObservabilityError(`Prometheus did not scrape after ${since.toISOString()} within ${timeoutMs} ms: ${names}`),
      },
    );
  }
}
