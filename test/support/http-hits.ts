// Requests through Envoy for tests: which replica (`hostname`) answered each one, and the failures.
import { Agent, get } from "node:http";
import { z } from "zod";

const answerSchema = z.object({ hostname: z.string() });

export interface Hits {
  /** Answers per hostname (200 only). */
  counts: Map<string, number>;
  /** Requests that did not get a 200 with a hostname: status or error. */
  failures: string[];
}

function one(url: string, agent: Agent): Promise<{ hostname?: string; failure?: string }> {
  return new Promise((resolve) => {
    const req = get(url, { agent, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c));
      res.on("end", () => {
        if (res.statusCode !== 200) return resolve({ failure: `HTTP ${res.statusCode}: ${body.slice(0, 120)}` });
        try {
          resolve({ hostname: answerSchema.parse(JSON.parse(body)).hostname });
        } catch (err) {
          resolve({ failure: `bad answer: ${(err as Error).message}` });
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolve({ failure: err.message }));
  });
}

/** `n` GETs of `url`, `concurrency` at a time over keep-alive connections. */
export async function hits(url: string, n: number, concurrency = 4): Promise<Hits> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const counts = new Map<string, number>();
  const failures: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next += 1;
      const r = await one(url, agent);
      if (r.hostname !== undefined) counts.set(r.hostname, (counts.get(r.hostname) ?? 0) + 1);
      else failures.push(r.failure ?? "?");
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
  return { counts, failures };
}

export const seen = (h: Hits): string[] => [...h.counts.keys()].sort();

/**
 * `connections` TCP connections to `url`, each carrying `perConnection` sequential keep-alive
 * requests: the hostnames that answered, per connection. Throws when a connection was not reused
 * (then the grouping would not be per connection).
 */
export async function perConnection(url: string, connections: number, perConnection: number): Promise<string[][]> {
  const out: string[][] = [];
  for (let c = 0; c < connections; c++) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const seenHere: string[] = [];
    for (let i = 0; i < perConnection; i++) {
      const r = await new Promise<{ hostname?: string; reused: boolean }>((resolve, reject) => {
        const req = get(url, { agent, timeout: 5000 }, (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
          res.on("end", () => {
            try {
              resolve({ hostname: answerSchema.parse(JSON.parse(body)).hostname, reused: req.reusedSocket });
            } catch {
              resolve({ reused: req.reusedSocket });
            }
          });
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", reject);
      });
      if (i > 0 && !r.reused) throw new Error(`connection ${c + 1}: request ${i + 1} went over a new connection`);
      if (r.hostname !== undefined) seenHere.push(r.hostname);
    }
    agent.destroy();
    out.push(seenHere);
  }
  return out;
}
