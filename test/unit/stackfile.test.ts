// The stack file: a team's file and the demo's go through one path; each bad file is one line
// naming the field, and each good one fills its defaults from the compose file.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { demoStack, findStackFile, loadStack, loadStackFile, StackFileError } from "../../harness/stackfile/index.ts";

const COMPOSE = `
services:
  orders:
    image: nginx-test
    expose: ["3000"]
  payments:
    image: httpbin-test
    ports: ["127.0.0.1::8000"]
  worker:
    image: busybox
  multi:
    image: x
    expose: [80, "8081/tcp"]
`;

/** A team folder holding the compose file above and `stack` as envoy-pipeline.yaml. */
function team(stack: string): string {
  const dir = mkdtempSync(join(tmpdir(), "ep-stackfile-"));
  writeFileSync(join(dir, "docker-compose.yml"), COMPOSE);
  writeFileSync(join(dir, "envoy-pipeline.yaml"), stack);
  return dir;
}

const GOOD = `
compose: docker-compose.yml
services:
  orders:
    route: /api/orders/
    rewrite: /
    port: 3000
    health: /health
    replicas: 3
  payments:
    route: /api/payments/
    rewrite: /
    health: /
    policy: ring_hash
    hashHeader: x-user
    protocol: http2
`;

function rejects(stack: string, pattern: RegExp): void {
  const dir = team(stack);
  assert.throws(
    () => loadStackFile(join(dir, "envoy-pipeline.yaml")),
    (e: Error) => {
      assert.ok(e instanceof StackFileError, `not a StackFileError: ${e}`);
      assert.doesNotMatch(e.message, /\n/, "one line");
      assert.match(e.message, pattern);
      return true;
    },
  );
}

describe("stack file: good files", () => {
  it("reads the issue's example, with defaults from the compose file", () => {
    const s = loadStackFile(join(team(GOOD), "envoy-pipeline.yaml"));
    const [orders, payments] = s.services;
    assert.equal(orders?.port, 3000);
    assert.equal(orders?.request, "/api/orders/", "request defaults to the route");
    assert.equal(orders?.match, "prefix");
    assert.deepEqual(orders?.policy, { kind: "round_robin" });
    assert.equal(orders?.propagatesTrace, false);
    assert.equal(orders?.metrics, undefined);
    assert.equal(payments?.port, 8000, "the only published port");
    assert.equal(payments?.replicas, 2);
    assert.deepEqual(payments?.policy, { kind: "ring_hash", hashHeader: "x-user" });
    assert.equal(payments?.protocol, "http2");
    assert.deepEqual(
      s.services.map((x) => x.tcpPort),
      [8081, 8082],
    );
  });

  it("reads JSON with the same keys", () => {
    const dir = team("{}");
    writeFileSync(join(dir, "stack.json"), JSON.stringify({ compose: "docker-compose.yml", services: { orders: { route: "/o" } } }));
    const s = loadStackFile(join(dir, "stack.json"));
    assert.equal(s.services[0]?.match, "path_separated_prefix");
    assert.equal(s.services[0]?.health, "/healthz");
  });

  it("a route inside another's is fine: Envoy tries the longer first", () => {
    const s = loadStackFile(
      join(
        team("compose: docker-compose.yml\nservices:\n  orders: { route: /api/ }\n  payments: { route: /api/payments/ }\n"),
        "envoy-pipeline.yaml",
      ),
    );
    assert.equal(s.services.length, 2);
  });

  it("the demo is the seed's service1 and service2 at /service/1 and /service/2", () => {
    const s = demoStack();
    assert.deepEqual(
      s.services.map((x) => [x.name, x.route, x.port, x.tcpPort, x.replicas]),
      [
        ["service1", "/service/1", 8080, 8081, 3],
        ["service2", "/service/2", 8080, 8082, 3],
      ],
    );
  });

  it("finds --stack, then ENVOY_PIPELINE_STACK, then ./envoy-pipeline.yaml, else the demo", () => {
    const dir = team(GOOD);
    writeFileSync(join(dir, "other.yaml"), "compose: docker-compose.yml\nservices:\n  orders: { route: /o/ }\n");
    assert.equal(findStackFile({ flag: "other.yaml", env: { ENVOY_PIPELINE_STACK: "x" }, cwd: dir }), join(dir, "other.yaml"));
    assert.equal(findStackFile({ env: { ENVOY_PIPELINE_STACK: "other.yaml" }, cwd: dir }), join(dir, "other.yaml"));
    assert.equal(findStackFile({ env: {}, cwd: dir }), join(dir, "envoy-pipeline.yaml"));
    const empty = mkdtempSync(join(tmpdir(), "ep-stackfile-"));
    assert.equal(findStackFile({ env: {}, cwd: empty }), undefined);
    assert.equal(loadStack({ env: {}, cwd: empty }).source, "built-in demo stack");
    assert.throws(() => findStackFile({ flag: "missing.yaml", env: {}, cwd: empty }), /stack: .*missing\.yaml does not exist/);
  });
});

describe("stack file: bad files, one line each naming the field", () => {
  it("an unknown key", () => rejects(GOOD.replace("health: /health", "helth: /health"), /services\.orders: .*helth/));
  it("an unknown top-level key", () => rejects(`${GOOD}extra: 1\n`, /\(root\): .*extra/));
  it("a service missing from the compose file", () =>
    rejects(
      "compose: docker-compose.yml\nservices:\n  shipping: { route: /s/ }\n",
      /services\.shipping: no such service in .*docker-compose\.yml/,
    ));
  it("two routes that match the same paths", () =>
    rejects(
      "compose: docker-compose.yml\nservices:\n  orders: { route: /api/ }\n  payments: { route: /api }\n",
      /services\.payments\.route: '\/api' collides with services\.orders\.route/,
    ));
  it("a request that another service's route takes", () =>
    rejects(
      "compose: docker-compose.yml\nservices:\n  orders: { route: /api/, request: /api/payments/x }\n  payments: { route: /api/payments/ }\n",
      /services\.orders\.request: '\/api\/payments\/x' is routed to payments, not orders/,
    ));
  it("a port the service does not expose", () =>
    rejects(GOOD.replace("port: 3000", "port: 3001"), /services\.orders\.port: 3001 is not exposed by orders .*\(expose\/ports: 3000\)/));
  it("no port where the service exposes none", () =>
    rejects(
      "compose: docker-compose.yml\nservices:\n  worker: { route: /w/ }\n",
      /services\.worker\.port: missing, and worker does not expose exactly one port .*none/,
    ));
  it("no port where the service exposes two", () =>
    rejects("compose: docker-compose.yml\nservices:\n  multi: { route: /m/ }\n", /services\.multi\.port: missing.*80, 8081/));
  it("ring_hash without its header", () =>
    rejects(GOOD.replace("    hashHeader: x-user\n", ""), /services\.payments\.hashHeader: is required with policy ring_hash/));
  it("an unknown policy", () => rejects(GOOD.replace("ring_hash", "fastest"), /services\.payments\.policy/));
  it("a route that is not a path", () =>
    rejects(GOOD.replace("route: /api/orders/", "route: api/orders"), /services\.orders\.route: must be a path/));
  it("a compose file that is not there", () =>
    rejects(GOOD.replace("compose: docker-compose.yml", "compose: nope.yml"), /compose: .*nope\.yml does not exist/));
  it("no services", () => rejects("compose: docker-compose.yml\nservices: {}\n", /services: names no service/));
  it("not YAML", () => rejects("compose: [\n", /envoy-pipeline\.yaml: /));
});
