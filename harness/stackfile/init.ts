// `envoy-pipeline init`: a starter envoy-pipeline.yaml and Jenkinsfile from a team's compose file.
// It asks nothing: each service with exactly one exposed or published port becomes a routed
// service at /<name>/ (rewritten to /), and every guess is printed so the team can correct it.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { StackFileError, STACK_FILE_NAME } from "./load.ts";
import { parseComposeText } from "./compose.ts";
import { DEFAULT_REPLICAS } from "./model.ts";
import type { StackFile } from "./schema.ts";

export interface InitResult {
  /** Files written, absolute. */
  written: string[];
  /** One line per guess or skipped service. */
  guesses: string[];
}

/** The path of a compose healthcheck that probes over HTTP (`curl http://localhost:3000/health`, `GET /healthz`). */
export function healthPathOf(service: unknown): string | undefined {
  const test = (service as { healthcheck?: { test?: unknown } } | null)?.healthcheck?.test;
  const text = Array.isArray(test) ? test.join(" ") : typeof test === "string" ? test : "";
  const m = /https?:\/\/[^/\s"']+(\/[^\s"'\\]*)/.exec(text) ?? /GET (\/[^\s"'\\]*)/.exec(text);
  return m?.[1];
}

/** The starter stack file's content and the guesses behind it. */
export function guessStack(composeText: string, composeFile: string, composeRef: string): { file: StackFile; guesses: string[] } {
  const compose = parseComposeText(composeText, composeFile);
  const raw = (parse(composeText, { merge: true }) as { services: Record<string, unknown> }).services;
  const services: StackFile["services"] = {};
  const guesses: string[] = [];
  for (const [name, ports] of compose.ports) {
    if (ports.length !== 1) {
      guesses.push(
        `${name}: skipped, ${ports.length === 0 ? "it exposes no port" : `it exposes ${ports.length} ports (${ports.join(", ")})`}: add it by hand with its port`,
      );
      continue;
    }
    const fromCheck = healthPathOf(raw[name]);
    const health = fromCheck ?? "/";
    services[name] = { route: `/${name}/`, rewrite: "/", port: ports[0] as number, health, replicas: DEFAULT_REPLICAS };
    const why = fromCheck ? "from its compose healthcheck" : "no HTTP healthcheck in compose: Envoy needs a 2xx there";
    guesses.push(`${name}: route /${name}/ → / on port ${ports[0]}, health ${health} (${why}), ${DEFAULT_REPLICAS} replicas`);
  }
  if (Object.keys(services).length === 0) throw new StackFileError(`${composeFile}: no service exposes exactly one port; nothing to route`);
  return { file: { compose: composeRef, services }, guesses };
}

function jenkinsfile(compose: string, file: StackFile): string {
  const replicas = Object.entries(file.services)
    .map(([name, s]) => `${name}: ${s.replicas}`)
    .join(", ");
  return [
    "// Starter Jenkinsfile written by `envoy-pipeline init`: the envoy-pipeline library's whole pipeline",
    "// (prepare, build, deploy, scale, verify, teardown) on this repository's stack. The harness reads",
    `// ${STACK_FILE_NAME} from the workspace; see the library's docs/jenkins.md for every key.`,
    "@Library('envoy-pipeline') _",
    "",
    `envoyPipeline(composeFile: '${compose}', replicas: [${replicas}])`,
    "",
  ].join("\n");
}

/** Writes envoy-pipeline.yaml and Jenkinsfile beside the compose file; refuses to overwrite either. */
export function initTeamRepo(opts: { composeFile: string; dir?: string }): InitResult {
  const composeFile = resolve(opts.composeFile);
  const dir = resolve(opts.dir ?? dirname(composeFile));
  if (!existsSync(composeFile)) throw new StackFileError(`--compose-file: ${composeFile} does not exist`);
  const targets = [join(dir, STACK_FILE_NAME), join(dir, "Jenkinsfile")];
  const present = targets.filter((t) => existsSync(t));
  if (present.length > 0)
    throw new StackFileError(`init: ${present.join(" and ")} already exist${present.length === 1 ? "s" : ""}; not overwriting`);
  const ref = relative(dir, composeFile) || basename(composeFile);
  const { file, guesses } = guessStack(readFileSync(composeFile, "utf8"), composeFile, ref);
  const header = `# Written by \`envoy-pipeline init\` from ${ref}: every value below is a guess; correct it here.\n`;
  writeFileSync(targets[0] as string, header + stringify(file), { flag: "wx" });
  writeFileSync(targets[1] as string, jenkinsfile(ref, file), { flag: "wx" });
  return { written: targets, guesses };
}
