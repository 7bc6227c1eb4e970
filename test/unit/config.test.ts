import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { ConfigError, defaultProjectName, loadConfig, parseScale, refuseKernelFolder } from "../../harness/config.ts";

describe("configuration", () => {
  it("defaults to service1=3 service2=3, ephemeral ports, a unique project", () => {
    const a = loadConfig({ env: {} });
    assert.deepEqual(a.scale, { service1: 3, service2: 3 });
    assert.deepEqual(a.ports, { listener: 0, admin: 0 });
    assert.match(a.projectName, /^envoy-pipeline-[a-z0-9]+$/);
  });

  it("derives the compose project from Jenkins' BUILD_TAG so executors never collide", () => {
    assert.equal(defaultProjectName({ BUILD_TAG: "jenkins-Envoy Pipeline/main-42" }), "jenkins-envoy-pipeline-main-42-643bdac0");
    assert.notEqual(defaultProjectName({ BUILD_TAG: "jenkins-a-1" }), defaultProjectName({ BUILD_TAG: "jenkins-a-2" }));
  });

  it("layers file < env < flags", () => {
    const dir = mkdtempSync(join(tmpdir(), "ep-config-"));
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ scale: { service1: 5 }, verify: { concurrency: 4 }, ports: { admin: 19901 } }));
    const c = loadConfig({
      file,
      env: { ENVOY_PIPELINE_CONCURRENCY: "6", ENVOY_PIPELINE_PROJECT: "from-env" },
      cli: { verify: { requests: 900 } },
    });
    assert.deepEqual(c.scale, { service1: 5 });
    assert.deepEqual(c.verify, { requests: 900, concurrency: 6 });
    assert.deepEqual(c.ports, { listener: 0, admin: 19901 });
    assert.equal(c.projectName, "from-env");
  });

  it("names the field of a bad value, wherever it came from", () => {
    assert.throws(
      () => loadConfig({ env: {}, cli: { scale: { service1: -1 } } }),
      (e: Error) => e instanceof ConfigError && /scale\.service1/.test(e.message),
    );
    assert.throws(
      () => loadConfig({ env: { ENVOY_PIPELINE_LISTENER_PORT: "http" } }),
      /ENVOY_PIPELINE_LISTENER_PORT: 'http' is not a number/,
    );
    assert.throws(() => loadConfig({ env: {}, cli: { ports: { listener: 70000 } } }), /ports\.listener/);
    assert.throws(() => loadConfig({ env: {}, cli: { projectName: "Bad Name" } }), /projectName/);
    assert.throws(
      () => loadConfig({ env: {}, cli: { composeFile: "/nope/compose.yml" } }),
      /composeFile: \/nope\/compose.yml does not exist/,
    );
    const dir = mkdtempSync(join(tmpdir(), "ep-config-"));
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ verify: { concurency: 3 } }));
    assert.throws(() => loadConfig({ file, env: {} }), /config file .*c\.json: verify: Unrecognized key.*concurency/);
    writeFileSync(file, "{ nope");
    assert.throws(() => loadConfig({ file, env: {} }), /not valid JSON/);
  });

  it("tracing.sampling: 1 % by default, from a file, the environment or a flag; a whole percentage 0-100", () => {
    assert.deepEqual(loadConfig({ env: {} }).tracing, { sampling: 1 });
    assert.equal(loadConfig({ env: { ENVOY_PIPELINE_TRACING_SAMPLING: "100" } }).tracing.sampling, 100);
    assert.equal(loadConfig({ env: { ENVOY_PIPELINE_TRACING_SAMPLING: "100" }, cli: { tracing: { sampling: 0 } } }).tracing.sampling, 0);
    const dir = mkdtempSync(join(tmpdir(), "ep-config-"));
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ tracing: { sampling: 25 } }));
    assert.equal(loadConfig({ file, env: {} }).tracing.sampling, 25);
    assert.throws(
      () => loadConfig({ env: { ENVOY_PIPELINE_TRACING_SAMPLING: "101" } }),
      /invalid configuration: tracing\.sampling: Too big/,
    );
    assert.throws(() => loadConfig({ env: { ENVOY_PIPELINE_TRACING_SAMPLING: "0.5" } }), /tracing\.sampling: must be a whole percentage/);
    assert.throws(
      () => loadConfig({ env: { ENVOY_PIPELINE_TRACING_SAMPLING: "most" } }),
      /ENVOY_PIPELINE_TRACING_SAMPLING: 'most' is not a number/,
    );
  });

  it("targets compose unless told swarm (file, ENVOY_PIPELINE_TARGET or --target), and names a bad target", () => {
    assert.equal(loadConfig({ env: {} }).target, "compose");
    assert.equal(loadConfig({ env: { ENVOY_PIPELINE_TARGET: "swarm" } }).target, "swarm");
    assert.equal(loadConfig({ env: { ENVOY_PIPELINE_TARGET: "swarm" }, cli: { target: "compose" } }).target, "compose");
    assert.throws(
      () => loadConfig({ env: { ENVOY_PIPELINE_TARGET: "kubernetes" } }),
      (e: Error) => e instanceof ConfigError && /target: Invalid option/.test(e.message),
    );
  });

  it("parses scale specs and rejects malformed ones", () => {
    assert.deepEqual(parseScale(["service1=3,service2=2", "service3=1"]), { service1: 3, service2: 2, service3: 1 });
    assert.throws(() => parseScale("service1"), /'service1' is not SERVICE=REPLICAS/);
    assert.throws(() => parseScale("service1=two"), /scale\.service1: 'two' is not a whole decimal number/);
  });

  it("refuses an empty count (an unset $N), hex, exponents and names such as __proto__ (issue 22)", () => {
    assert.throws(() => parseScale("service1="), /^ConfigError: scale\.service1: '' is not a whole decimal number$/);
    assert.throws(() => parseScale("service1=0x10"), /scale\.service1: '0x10' is not a whole decimal number/);
    assert.throws(() => parseScale("service1=1e1"), /scale\.service1: '1e1' is not a whole decimal number/);
    assert.throws(() => parseScale("service1=-1"), /'-1' is not a whole decimal number/);
    assert.throws(() => parseScale("__proto__=3"), /scale: '__proto__' is not a service or container name/);
    assert.deepEqual(parseScale("service1=007"), { service1: 7 });
  });

  it("refuses state and report folders in /proc, /sys and /dev in one line (issue 22)", () => {
    assert.throws(
      () => loadConfig({ env: {}, cli: { reportDir: "/proc/self/reports" } }),
      /reportDir: \/proc\/self\/reports is in a kernel file system/,
    );
    assert.throws(() => refuseKernelFolder("ENVOY_PIPELINE_STATE_DIR", "/sys/x"), ConfigError);
    assert.throws(() => refuseKernelFolder("f", "/dev"), ConfigError);
    assert.equal(refuseKernelFolder("f", "/tmp/process"), "/tmp/process");
  });
});
