// A team's repository, as a new user has it: a git repository holding only a compose file of
// third-party servers (nginx from Debian, once over h2c; httpbin from PyPI), a stack file and a
// Jenkinsfile. Its compose file is used unedited, with the generated override around it; every
// service is reached through Envoy at its prefix, and every replica is named by Envoy's identity
// header and mapped to its container through Docker. Afterwards the repository holds nothing new.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { Client } from "undici";
import { docker } from "../../harness/docker/engine.ts";
import { assertValidEnvoyConfig } from "../../harness/envoy/validate.ts";
import { prepareImages } from "../../harness/images/index.ts";
import { pollUntil } from "../../harness/lib/poll.ts";
import { writeComposeOverride } from "../../harness/render/compose-override.ts";
import { IDENTITY_HEADER, renderEnvoyConfig } from "../../harness/render/envoy-config.ts";
import { stackDirectory } from "../../harness/stack/directory.ts";
import { identifyReplica } from "../../harness/stack/upstream-identity.ts";
import { loadStackFile, type Stack } from "../../harness/stackfile/index.ts";
import { teamServerImage } from "../support/team-images.ts";

const run = process.env.ENVOY_PIPELINE_TEST_RUN ?? Math.random().toString(16).slice(2, 8);
const project = `ept-team-${run}`;
const repo = mkdtempSync(join(tmpdir(), "ep-team-repo-"));
const state = mkdtempSync(join(tmpdir(), "ep-team-state-"));
let stack: Stack;
let override = "";
const compose = (...args: string[]) =>
  execFileSync("docker", ["compose", "-p", project, "-f", join(repo, "docker-compose.yml"), "-f", override, ...args], {
    cwd: repo,
    env: {
      ...process.env,
      ENVOY_PIPELINE_OWNER_PID: String(process.pid),
      ENVOY_PIPELINE_OWNER_HOST: hostname(),
      ENVOY_PIPELINE_LIFETIME: "process",
    },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });

beforeAll(async () => {
  const [nginx, httpbin, images] = await Promise.all([
    teamServerImage("nginx"),
    teamServerImage("httpbin"),
    prepareImages({ log: () => undefined }),
  ]);
  writeFileSync(
    join(repo, "docker-compose.yml"),
    `services:\n  orders:\n    image: ${nginx}\n    expose: ["80"]\n  catalog:\n    image: ${nginx}\n    expose: ["8081"]\n  payments:\n    image: ${httpbin}\n    expose: ["8000"]\n`,
  );
  writeFileSync(
    join(repo, "envoy-pipeline.yaml"),
    [
      "compose: docker-compose.yml",
      "services:",
      "  orders: { route: /api/orders/, rewrite: /, health: /, replicas: 3 }",
      "  catalog: { route: /api/catalog/, rewrite: /, health: /, protocol: http2, replicas: 2 }",
      "  payments: { route: /api/payments/, rewrite: /, request: /api/payments/get, health: /status/200, replicas: 2 }",
      "",
    ].join("\n"),
  );
  writeFileSync(join(repo, "Jenkinsfile"), "@Library('envoy-pipeline') _\nenvoyPipeline(stack: 'envoy-pipeline.yaml')\n");
  execFileSync("sh", ["-c", "git init -q && git add -A && git -c user.email=t@example.com -c user.name=t commit -qm team"], { cwd: repo });
  stack = loadStackFile(join(repo, "envoy-pipeline.yaml"));
  const envoyYaml = renderEnvoyConfig(stack);
  await assertValidEnvoyConfig(images.env.ENVOY_IMAGE, envoyYaml, "generated envoy.yaml");
  override = writeComposeOverride(
    state,
    stack,
    { envoy: images.env.ENVOY_IMAGE, prometheus: images.env.PROMETHEUS_IMAGE, zipkin: images.env.ZIPKIN_IMAGE },
    envoyYaml,
  );
  compose("up", "-d", ...stack.services.flatMap((s) => ["--scale", `${s.name}=${s.replicas}`]));
}, 900_000);

afterAll(() => {
  if (override !== "") compose("down", "-v", "--remove-orphans", "-t", "3");
});

function publishedPort(service: string, port: number): number {
  return Number(compose("port", service, String(port)).trim().split(":").pop());
}

describe("a team's stack behind the generated Envoy", () => {
  it("reaches every service at its prefix and names every replica through Envoy's identity header", async () => {
    const admin = publishedPort("front-envoy", 9901);
    const listenerUrl = `http://127.0.0.1:${publishedPort("front-envoy", 8080)}`;
    const listener = new Client(listenerUrl);
    // Envoy sees every replica healthy: the event the requests wait for.
    await pollUntil(
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${admin}/clusters`)).text();
        const healthy = (name: string) =>
          text.split("\n").filter((l) => l.startsWith(`${name}::`) && l.includes("::health_flags::healthy")).length;
        return stack.services.every((s) => healthy(s.name) === s.replicas) ? true : undefined;
      },
      { timeoutMs: 180_000, what: "every replica healthy in Envoy" },
    );
    const dir = await stackDirectory(docker(), project);
    for (const s of stack.services) {
      const seen = new Map<string, number>();
      // Envoy's workers take the host set from its main thread after /clusters shows it, and one
      // connection stays on one worker: a new connection per request (any worker), until every
      // replica has answered (the event), bounded by count and time.
      const until = Date.now() + 60_000;
      for (let i = 0; i < 2000 && Date.now() < until && (i < 30 || seen.size < s.replicas); i++) {
        const client = new Client(listenerUrl);
        const res = await client.request({ path: s.request, method: "GET", headers: { connection: "close" } });
        const body = await res.body.text();
        assert.equal(res.statusCode, 200, `${s.name} ${s.request}: ${res.statusCode} ${body}`);
        // nginx echoes the protocol Envoy spoke upstream: h2c where the stack file says http2.
        if (s.name !== "payments") assert.match(body, s.protocol === "http2" ? / HTTP\/2\.0 \/\n$/ : / HTTP\/1\.1 \/\n$/);
        const address = res.headers[IDENTITY_HEADER];
        const id = identifyReplica(dir, s.name, typeof address === "string" ? address : undefined);
        assert.ok(id.ok, `${s.name}: ${id.ok ? "" : id.problem}`);
        seen.set(id.container, (seen.get(id.container) ?? 0) + 1);
        await client.close();
      }
      console.log(`${s.name} ${s.request}: ${[...seen].map(([c, n]) => `${c}=${n}`).join(" ")}`);
      assert.equal(seen.size, s.replicas, `${s.name}: every replica answered`);
    }
    // Envoy's own reply (no route) carries no identity header: it names only upstreams.
    const none = await listener.request({ path: "/nowhere", method: "GET" });
    await none.body.text();
    assert.equal(none.statusCode, 404);
    assert.equal(none.headers[IDENTITY_HEADER], undefined);
    await listener.close();
  });

  it("leaves the team's repository as it was", () => {
    assert.equal(execFileSync("git", ["status", "--porcelain", "--ignored"], { cwd: repo, encoding: "utf8" }), "");
  });
});
