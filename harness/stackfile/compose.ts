// The team's compose file, read only for what the stack file is checked against: which services
// exist and which container ports each exposes (`expose`) or publishes (`ports`).
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { ConfigError } from "../config.ts";
import { errorMessage, formatIssues } from "../lib/errors.ts";
import { composeFileSchema, type ComposeServiceSpec } from "./schema.ts";

export interface ComposeServices {
  file: string;
  /** Per service, its container ports in the order the file lists them (no duplicates). */
  ports: Map<string, number[]>;
}

/** Container ports of one `ports`/`expose` entry: "8000", "127.0.0.1:${P:-}:8080", "3000/tcp", "8000-8001", {target}. */
function containerPorts(spec: string | number | { target: number | string }): number[] {
  const raw = typeof spec === "object" ? String(spec.target) : String(spec);
  const last =
    raw
      .replace(/\/(tcp|udp|sctp)$/, "")
      .split(":")
      .pop() ?? "";
  const m = /^(\d+)(?:-(\d+))?$/.exec(last);
  if (!m?.[1]) return [];
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  return to >= from && to - from < 1000 ? Array.from({ length: to - from + 1 }, (_, i) => from + i) : [];
}

export function servicePorts(s: ComposeServiceSpec | null): number[] {
  const all = [...(s?.expose ?? []), ...(s?.ports ?? [])].flatMap(containerPorts);
  return [...new Set(all)];
}

export function parseComposeText(text: string, file: string): ComposeServices {
  let raw: unknown;
  try {
    raw = parse(text, { merge: true });
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML (${errorMessage(err).split("\n")[0]})`);
  }
  const parsed = composeFileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${file}: ${formatIssues(parsed.error)}`);
  return { file, ports: new Map(Object.entries(parsed.data.services).map(([name, s]) => [name, servicePorts(s)])) };
}

export function readCompose(file: string): ComposeServices {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`compose: cannot read ${file} (${errorMessage(err)})`);
  }
  return parseComposeText(text, file);
}
