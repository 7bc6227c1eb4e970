// The service's environment: defaults, and errors that name the variable to fix.
import assert from "node:assert/strict";
import { test } from "vitest";
import { ConfigError, loadConfig } from "../../services/src/config.ts";

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(env)}`);
}

test("defaults: PORT 8080, SERVICE_NAME service<ID>, no Zipkin, info logs, no delay", () => {
  assert.deepEqual(loadConfig({ SERVICE_ID: "1" }), {
    serviceId: "1",
    port: 8080,
    grpcPort: 50051,
    zipkinEndpoint: undefined,
    serviceName: "service1",
    reportedHostname: undefined,
    responseDelayMs: 0,
    failEvery: undefined,
    logLevel: "info",
    shutdownGraceMs: 0,
  });
});

test("every variable is read", () => {
  const config = loadConfig({
    SERVICE_ID: "2",
    PORT: "9090",
    GRPC_PORT: "9091",
    ZIPKIN_ENDPOINT: "http://zipkin:9411/api/v2/spans",
    SERVICE_NAME: "backend-two",
    REPORTED_HOSTNAME: "liar",
    RESPONSE_DELAY_MS: "25",
    FAIL_EVERY: "7",
    LOG_LEVEL: "debug",
    SHUTDOWN_GRACE_MS: "4000",
  });
  assert.deepEqual(config, {
    serviceId: "2",
    port: 9090,
    grpcPort: 9091,
    zipkinEndpoint: "http://zipkin:9411/api/v2/spans",
    serviceName: "backend-two",
    reportedHostname: "liar",
    responseDelayMs: 25,
    failEvery: 7,
    logLevel: "debug",
    shutdownGraceMs: 4000,
  });
});

test("empty variables count as unset; surrounding blanks are trimmed", () => {
  const config = loadConfig({ SERVICE_ID: " 3 ", PORT: "", ZIPKIN_ENDPOINT: "", SERVICE_NAME: "" });
  assert.equal(config.serviceId, "3");
  assert.equal(config.port, 8080);
  assert.equal(config.zipkinEndpoint, undefined);
  assert.equal(config.serviceName, "service3");
});

test("a missing SERVICE_ID is an error naming SERVICE_ID", () => {
  const err = configError({});
  assert.deepEqual(err.variables, ["SERVICE_ID"]);
  assert.match(err.message, /SERVICE_ID is required/);
  assert.deepEqual(configError({ SERVICE_ID: "  " }).variables, ["SERVICE_ID"]);
  assert.deepEqual(configError({ SERVICE_ID: "a/b" }).variables, ["SERVICE_ID"]);
});

test("a bad PORT names PORT", () => {
  for (const port of ["abc", "-1", "65536", "80.5", "8080x"]) {
    const err = configError({ SERVICE_ID: "1", PORT: port });
    assert.deepEqual(err.variables, ["PORT"], port);
    assert.match(err.message, /PORT must be a whole number from 0 to 65535/, port);
  }
  assert.equal(loadConfig({ SERVICE_ID: "1", PORT: "0" }).port, 0);
  assert.equal(loadConfig({ SERVICE_ID: "1", PORT: "65535" }).port, 65535);
});

test("a bad ZIPKIN_ENDPOINT names ZIPKIN_ENDPOINT", () => {
  for (const url of ["zipkin:9411", "not a url", "ftp://zipkin/api/v2/spans"]) {
    const err = configError({ SERVICE_ID: "1", ZIPKIN_ENDPOINT: url });
    assert.deepEqual(err.variables, ["ZIPKIN_ENDPOINT"], url);
    assert.match(err.message, /ZIPKIN_ENDPOINT must be an http\(s\) URL/, url);
  }
  assert.equal(
    loadConfig({ SERVICE_ID: "1", ZIPKIN_ENDPOINT: "https://z.example/api/v2/spans" }).zipkinEndpoint,
    "https://z.example/api/v2/spans",
  );
});

test("all problems are reported at once", () => {
  const err = configError({ PORT: "x", LOG_LEVEL: "loud", RESPONSE_DELAY_MS: "999999", SERVICE_NAME: "bad name" });
  assert.deepEqual([...err.variables].sort(), ["LOG_LEVEL", "PORT", "RESPONSE_DELAY_MS", "SERVICE_ID", "SERVICE_NAME"]);
  for (const v of err.variables) assert.match(err.message, new RegExp(`\\b${v}\\b`));
  assert.match(err.message, /^invalid service configuration: /);
});
