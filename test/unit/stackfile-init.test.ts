// `envoy-pipeline init`: guesses from a compose file, writes files that load as a stack, and
// never overwrites.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { loadStackFile, StackFileError } from "../../harness/stackfile/index.ts";
import { initTeamRepo } from "../../harness/stackfile/init.ts";

const COMPOSE = `
services:
  orders:
    image: team/nginx
    expose: ["3000"]
    healthcheck: { test: ["CMD", "curl", "-fsS", "http://localhost:3000/health"] }
  payments:
    image: team/httpbin
    ports: ["127.0.0.1::8000"]
  redis:
    image: redis
  admin:
    image: x
    expose: ["80", "443"]
`;

function repo(compose = COMPOSE): string {
  const dir = mkdtempSync(join(tmpdir(), "ep-init-"));
  writeFileSync(join(dir, "docker-compose.yml"), compose);
  return dir;
}

describe("envoy-pipeline init", () => {
  it("routes each service with one port at /<name>/, says what it guessed and skipped, and the file loads", () => {
    const dir = repo();
    const r = initTeamRepo({ composeFile: join(dir, "docker-compose.yml"), dir });
    assert.deepEqual(r.guesses, [
      "orders: route /orders/ → / on port 3000, health /health (from its compose healthcheck), 2 replicas",
      "payments: route /payments/ → / on port 8000, health / (no HTTP healthcheck in compose: Envoy needs a 2xx there), 2 replicas",
      "redis: skipped, it exposes no port: add it by hand with its port",
      "admin: skipped, it exposes 2 ports (80, 443): add it by hand with its port",
    ]);
    const stack = loadStackFile(join(dir, "envoy-pipeline.yaml"));
    assert.deepEqual(
      stack.services.map((s) => [s.name, s.route, s.rewrite, s.port, s.health]),
      [
        ["orders", "/orders/", "/", 3000, "/health"],
        ["payments", "/payments/", "/", 8000, "/"],
      ],
    );
    assert.match(
      readFileSync(join(dir, "Jenkinsfile"), "utf8"),
      /envoyPipeline\(composeFile: 'docker-compose\.yml', replicas: \[orders: 2, payments: 2\]\)/,
    );
  });

  it("refuses to overwrite, in one line, and writes nothing", () => {
    const dir = repo();
    writeFileSync(join(dir, "Jenkinsfile"), "mine\n");
    assert.throws(
      () => initTeamRepo({ composeFile: join(dir, "docker-compose.yml"), dir }),
      (e: Error) => e instanceof StackFileError && /^init: .*Jenkinsfile already exists; not overwriting$/.test(e.message),
    );
    assert.equal(readFileSync(join(dir, "Jenkinsfile"), "utf8"), "mine\n");
    assert.throws(() => readFileSync(join(dir, "envoy-pipeline.yaml")), /ENOENT/);
  });

  it("says no when no service has exactly one port, or the compose file is missing", () => {
    const dir = repo("services:\n  redis: { image: redis }\n");
    assert.throws(() => initTeamRepo({ composeFile: join(dir, "docker-compose.yml"), dir }), /no service exposes exactly one port/);
    assert.throws(() => initTeamRepo({ composeFile: join(dir, "nope.yml"), dir }), /--compose-file: .*nope\.yml does not exist/);
  });
});
