// verify against the real compose stack, in both directions: a healthy stack passes every time,
// and each way balancing can break makes it fail with the check and the culprit named.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { repoRoot } from "../../harness/lib/paths.ts";
import { runningReplicas, stackEndpoints } from "../../harness/stack/discover.ts";
import { EnvoyAdmin } from "../../harness/envoy/admin.ts";
import { ConvergenceTimeout, waitForClusters, waitForEnvoy, waitForTraffic } from "../../harness/stack/envoy-wait.ts";
import { scale } from "../../harness/stages/scale.ts";
import { verifyStack, type VerifyOutcome } from "../../harness/verify/orchestrator.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";

function failedChecks(outcome: VerifyOutcome, service: string): { name: string; reason: string; culprits: string[] }[] {
  const s = outcome.report.services.find((x) => x.service === service);
  assert.ok(s, `no report for ${service}`);
  return s.checks.filter((c) => !c.passed);
}

function check(outcome: VerifyOutcome, service: string, name: string): { passed: boolean; reason: string; culprits: string[] } {
  const c = outcome.report.services.find((x) => x.service === service)?.checks.find((x) => x.name === name);
  assert.ok(c, `no ${name} check for ${service}`);
  return c;
}

describe("verify on a healthy 3 + 3 stack", { timeout: 900_000 }, () => {
  let stack: TestStack | undefined;
  const s = (): TestStack => {
    assert.ok(stack, "the stack did not start");
    return stack;
  };
  beforeAll(async () => {
    stack = await startTestStack("verify", { scale: { service1: 3, service2: 3 } });
    stack.ctx.config.verify.requests = 300;
    await scale(stack.ctx);
  });
  afterAll(() => stack?.stop());

  it("passes, run after run (false alarms counted)", async () => {
    const runs = 5;
    let falseAlarms = 0;
    let last: VerifyOutcome | undefined;
    for (let i = 0; i < runs; i++) {
      const outcome = await verifyStack(s().ctx);
      last = outcome;
      if (!outcome.passed) {
        falseAlarms++;
        console.error(outcome.table);
      }
    }
    console.log(`verify on the healthy stack: ${falseAlarms} false alarms in ${runs} runs`);
    assert.equal(falseAlarms, 0);
    // Envoy's two layers, through the stack's tcp_proxy listeners: every L4 connection on one
    // replica, connections spread over several; one L7 connection reaching all three.
    for (const service of ["service1", "service2"]) {
      const layers = last?.report.services.find((x) => x.service === service)?.layers;
      assert.ok(layers, `${service}: no layers measurement`);
      console.log(`${service} layers: ${JSON.stringify(layers)}`);
      assert.match(layers.l4.url, /^http:\/\/127\.0\.0\.1:\d+$/, "the L4 listener is published on loopback only");
      assert.equal(layers.l4.mixedConnections, 0);
      assert.ok(Object.keys(layers.l4.connectionsPerReplica).length >= 2, JSON.stringify(layers.l4));
      assert.equal(Object.keys(layers.l7.requestsPerReplica).length, 3, JSON.stringify(layers.l7));
    }
    assert.match(last?.table ?? "", /PASS service1 layers: L4: 9 connections × ~4 requests, each on one replica/);
  });

  it("fails membership when a replica answers with a hostname that is not its own", async () => {
    const { docker, config } = s().ctx;
    const [model] = await runningReplicas(docker, config.projectName, "service2");
    assert.ok(model);
    const inspect = await docker.getContainer(model.name).inspect();
    const network = Object.keys(inspect.NetworkSettings.Networks)[0];
    assert.ok(network);
    // A fourth service2 replica as compose would label it, whose service lies about its identity.
    const liar = await docker.createContainer({
      Image: inspect.Config.Image,
      Env: ["SERVICE_ID=2", "REPORTED_HOSTNAME=not-my-hostname"],
      Labels: {
        "com.docker.compose.project": config.projectName,
        "com.docker.compose.service": "service2",
        "com.docker.compose.container-number": "99",
        "com.docker.compose.oneoff": "False",
      },
      HostConfig: { NetworkMode: network },
      NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: ["service2"] } } },
    });
    try {
      await liar.start();
      // Envoy's admin view only: traffic cannot "reach" the liar under its real hostname.
      await waitForClusters(
        new EnvoyAdmin(s().deployed.endpoints.adminUrl),
        [{ cluster: "service2", replicas: () => runningReplicas(docker, config.projectName, "service2") }],
        { timeoutMs: 60_000 },
      );
      // Envoy's workers take the new host a moment after its admin view: wait until an answer
      // through the listener carries the lie.
      await waitForTraffic(s().deployed.endpoints.listenerUrl, "/service/2", [{ ...model, name: "liar", hostname: "not-my-hostname" }], {
        timeoutMs: 60_000,
      });
      // Four desired replicas of service2, so the liar is one of them, not an extra container.
      const outcome = await verifyStack(s().ctx, { desired: { service1: 3, service2: 4 } });
      assert.equal(outcome.passed, false);
      const membership = check(outcome, "service2", "membership");
      assert.equal(membership.passed, false, membership.reason);
      assert.ok(
        membership.culprits.some((c) => c.includes("not-my-hostname")),
        `culprits: ${membership.culprits.join(", ")}`,
      );
      const real = (await liar.inspect()).Config.Hostname;
      assert.match(membership.reason, new RegExp(`not-my-hostname|${real}`));
      assert.equal(check(outcome, "service1", "membership").passed, true, "service1 is untouched");
    } finally {
      await liar.remove({ force: true });
    }
    await waitForEnvoy(s().ctx, s().deployed.endpoints, ["service2"]);
  });

  it("fails when a replica is frozen behind Envoy's back, and names it", async () => {
    const { docker, config } = s().ctx;
    const replicas = await runningReplicas(docker, config.projectName, "service1");
    const victim = replicas[1];
    assert.ok(victim);
    await docker.getContainer(victim.name).pause();
    try {
      const outcome = await verifyStack(s().ctx);
      assert.equal(outcome.passed, false);
      const failed = failedChecks(outcome, "service1");
      assert.ok(failed.length > 0);
      const blamed = failed.flatMap((c) => [...c.culprits, c.reason]).join(" ");
      assert.ok(blamed.includes(victim.hostname) || blamed.includes(victim.name), `the frozen replica is named: ${blamed}`);
    } finally {
      await docker.getContainer(victim.name).unpause();
    }
  });
});

describe("verify where Envoy is misconfigured", { timeout: 900_000 }, () => {
  let stack: TestStack | undefined;
  let dir = "";
  const s = (): TestStack => {
    assert.ok(stack, "the stack did not start");
    return stack;
  };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ep-broken-envoy-"));
    const envoyConfig = join(dir, "envoy.yaml");
    // Written before the project name is known; the pinned endpoint names it through a variable.
    writeFileSync(envoyConfig, "");
    const label = "verify-broken";
    stack = await startTestStack(label, {
      scale: { service1: 3, service2: 3 },
      composeOverrides: [resolve(repoRoot, "test/fixtures/compose/envoy-config-override.yml")],
      env: { ENVOY_CONFIG_OVERRIDE: envoyConfig },
      beforeDeploy: (project) => writeFileSync(envoyConfig, brokenEnvoyConfig(project)),
    });
    stack.ctx.config.verify.requests = 300;
  });
  afterAll(async () => {
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("scale never converges for a LOGICAL_DNS cluster, and says which replicas Envoy does not know", async () => {
    const ctx = { ...s().ctx, config: { ...s().ctx.config, waitTimeoutSeconds: 8 } };
    await assert.rejects(scale(ctx), (err: Error) => {
      assert.ok(err instanceof ConvergenceTimeout, err.message);
      assert.match(err.message, /cluster service1: not yet known to Envoy: [\d.]+ \(.*service1-\d\)/);
      return true;
    });
  });

  it("fails membership when LOGICAL_DNS keeps replicas from traffic, naming the unseen ones", async () => {
    const outcome = await verifyStack(s().ctx);
    assert.equal(outcome.passed, false);
    const membership = check(outcome, "service1", "membership");
    assert.equal(membership.passed, false, membership.reason);
    const replicas = await runningReplicas(s().ctx.docker, s().config.projectName, "service1");
    assert.equal(replicas.length, 3);
    const unseen = replicas.filter((r) => membership.culprits.some((c) => c.includes(r.hostname) || c.includes(r.name)));
    // LOGICAL_DNS sends each new connection to the first address of the latest answer, and Docker's
    // DNS shuffles them: a few connections may reach two replicas, never all three.
    assert.ok(unseen.length >= 1, `a replica never answered and is named: ${membership.culprits.join(", ")}`);
  });

  it("layers says no: L7 pinned to one replica by LOGICAL_DNS, and an 'L4' listener that balances requests", async () => {
    const outcome = await verifyStack(s().ctx);
    // service1: LOGICAL_DNS gives the one keep-alive connection a single upstream address.
    const pinned = check(outcome, "service1", "layers");
    assert.equal(pinned.passed, false, pinned.reason);
    assert.match(pinned.reason, /one L7 connection did not reach .*: not request-level/);
    // service2: its tcp_proxy listener replaced by an HTTP connection manager (L7 on the L4 port).
    const spread = check(outcome, "service2", "layers");
    assert.equal(spread.passed, false, spread.reason);
    assert.match(spread.reason, /L4 connection \d+ was answered by [23] replicas .*: not connection-level/);
    assert.match(outcome.table, /FAIL service2 layers: L4 connection/);
    const layers = outcome.report.services.find((x) => x.service === "service2")?.layers;
    assert.ok(layers && layers.l4.mixedConnections > 0, JSON.stringify(layers));
  });

  it("fails balance when Envoy gives one replica double weight where uniform is expected", async () => {
    const outcome = await verifyStack(s().ctx);
    const balance = check(outcome, "service2", "balance");
    assert.equal(balance.passed, false, balance.reason);
    const pinned = (await runningReplicas(s().ctx.docker, s().config.projectName, "service2")).find((r) => r.number === 1);
    assert.ok(pinned);
    assert.ok(
      balance.culprits.some((c) => c.includes(pinned.hostname) || c.includes(pinned.name)),
      `culprits: ${balance.culprits.join(", ")}`,
    );
    assert.equal(check(outcome, "service2", "membership").passed, true, "every replica still answers");
    const endpoints = await stackEndpoints(s().ctx.docker, s().config.projectName);
    assert.equal(endpoints.listenerUrl, s().deployed.endpoints.listenerUrl);
  });
});

/**
 * The shipped envoy.yaml, broken three ways: service1's cluster is LOGICAL_DNS (one address for
 * all new connections), service2's gets a second endpoint naming replica 1's container, so
 * Envoy's round robin gives that replica twice the share of the others, and service2's L4 listener
 * runs an HTTP connection manager instead of tcp_proxy (it balances requests, not connections).
 */
function brokenEnvoyConfig(project: string): string {
  const shipped = readFileSync(resolve(repoRoot, "envoy/envoy.yaml"), "utf8");
  const service1 = shipped.indexOf("    - name: service1");
  const service2 = shipped.indexOf("    - name: service2");
  assert.ok(service1 > 0 && service2 > service1, "envoy.yaml layout changed: update this fixture");
  const tcpProxy = [
    "            - name: envoy.filters.network.tcp_proxy",
    "              typed_config:",
    '                "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
    "                stat_prefix: tcp_service2",
    "                cluster: service2",
  ].join("\n");
  const l7OnL4 = [
    "            - name: envoy.filters.network.http_connection_manager",
    "              typed_config:",
    '                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    "                stat_prefix: tcp_service2",
    "                route_config:",
    '                  virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: service2 } }] }]',
    "                http_filters:",
    "                  - name: envoy.filters.http.router",
    "                    typed_config:",
    '                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  ].join("\n");
  assert.ok(shipped.includes(tcpProxy), "envoy.yaml's tcp_service2 listener changed: update this fixture");
  const head = shipped.slice(0, service1).replace(tcpProxy, l7OnL4);
  const one = shipped.slice(service1, service2).replace("type: STRICT_DNS", "type: LOGICAL_DNS");
  const two = shipped
    .slice(service2)
    .replace(
      "                    socket_address: { address: service2, port_value: 8080 }",
      `                    socket_address: { address: service2, port_value: 8080 }\n              - endpoint:\n                  address:\n                    socket_address: { address: ${project}-service2-1, port_value: 8080 }`,
    );
  assert.notEqual(one, shipped.slice(service1, service2), "service1 cluster not switched");
  assert.ok(two.includes(`${project}-service2-1`), "service2 endpoint not pinned");
  return head + one + two;
}
