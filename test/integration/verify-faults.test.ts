// verify on a 3 + 3 stack broken by hand the ways real clusters break. For each fault: the verdict
// is FAIL, the culprit is named by container (never a bare IP), the verdict comes within 30 s of the
// load, and the reports are written. Faults are undone (and Envoy's routing awaited) between tests.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type Dockerode from "dockerode";
import { afterAll, beforeAll, describe, it } from "vitest";
import { waitForEnvoy } from "../../harness/stack/envoy-wait.ts";
import { scale } from "../../harness/stages/scale.ts";
import { verifyStack, type VerifyOutcome } from "../../harness/verify/orchestrator.ts";
import { projectContainers, runningReplicas, type ReplicaContainer } from "../../harness/stack/discover.ts";
import { waitForTraffic } from "../../harness/stack/envoy-wait.ts";
import type { CheckResult, VerifyReport } from "../../harness/verify/schema.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";

const repoRoot = resolve(import.meta.dirname, "..", "..");
/** The bound: a failing verify ends within 30 s after its load, whatever the fault. */
const AFTER_LOAD_BOUND_S = 30;

function check(report: VerifyReport, service: string, name: CheckResult["name"]): CheckResult {
  const c = report.services.find((s) => s.service === service)?.checks.find((x) => x.name === name);
  assert.ok(c, `${service} has a ${name} verdict`);
  return c;
}

function assertBounded(outcome: VerifyOutcome): void {
  const s = outcome.report.afterLoadSeconds;
  assert.ok(s !== undefined && s < AFTER_LOAD_BOUND_S, `verdict ${s} s after the load (bound ${AFTER_LOAD_BOUND_S} s)`);
  console.log(`verdict ${s?.toFixed(1)} s after the load`);
}

function assertReports(outcome: VerifyOutcome): void {
  for (const file of Object.values(outcome.files)) assert.ok(existsSync(file), `${file} written`);
  const junit = readFileSync(outcome.files.junit, "utf8");
  assert.match(junit, /<failure/, "the JUnit file has the failure");
}

describe("verify on a broken 3 + 3 stack", { timeout: 900_000 }, () => {
  let stack: TestStack | undefined;
  let reportDir = "";
  const s = (): TestStack => {
    assert.ok(stack, "the stack did not start");
    return stack;
  };
  const docker = (): Dockerode => s().ctx.docker;
  const replicasOf = (service: string): Promise<ReplicaContainer[]> => runningReplicas(docker(), s().config.projectName, service);
  const healed = (): Promise<number> => waitForEnvoy(s().ctx, s().deployed.endpoints, ["service1", "service2"]);
  const verify = (): Promise<VerifyOutcome> => verifyStack(s().ctx);

  beforeAll(async () => {
    reportDir = mkdtempSync(join(tmpdir(), "ep-faults-"));
    stack = await startTestStack("verify-faults", { scale: { service1: 3, service2: 3 } });
    stack.ctx.config.verify.requests = 300;
    stack.ctx.config.reportDir = reportDir;
    await scale(stack.ctx);
  });
  afterAll(async () => {
    // Containers this file started by hand carry only its test label.
    if (stack) {
      for (const c of await stack.ctx.docker.listContainers({
        all: true,
        filters: { label: [`envoy-pipeline.test=${stack.config.projectName}`] },
      })) {
        await stack.ctx.docker.getContainer(c.Id).remove({ force: true });
      }
    }
    await stack?.stop();
    if (reportDir) rmSync(reportDir, { recursive: true, force: true });
  });

  it("a replica that stops answering while Docker still calls it running: membership names it", async () => {
    const [, victim] = await replicasOf("service1");
    assert.ok(victim);
    await docker().getContainer(victim.name).kill({ signal: "SIGSTOP" });
    try {
      assert.equal((await docker().getContainer(victim.name).inspect()).State.Running, true, "Docker still calls it running");
      const outcome = await verify();
      assert.equal(outcome.passed, false);
      const membership = check(outcome.report, "service1", "membership");
      assert.equal(membership.passed, false);
      assert.ok(membership.culprits.includes(victim.name), `culprits: ${membership.culprits.join(", ")}`);
      assert.match(
        membership.reason,
        new RegExp(`container ${victim.name} \\(hostname ${victim.hostname}, ${victim.ip.replace(/\./g, "\\.")}\\) never answered`),
      );
      assert.equal(check(outcome.report, "service2", "membership").passed, true, "service2 is untouched");
      assertBounded(outcome);
      assertReports(outcome);
    } finally {
      await docker().getContainer(victim.name).kill({ signal: "SIGCONT" });
    }
    await healed();
  });

  it("a replica that exits: the CLI prints one FAIL line naming it with its exit code, exits 1 and writes every report", async () => {
    const [, , victim] = await replicasOf("service1");
    assert.ok(victim);
    // An earlier run's files must not survive this one.
    writeFileSync(join(reportDir, "verify.json"), '{"stale": true}');
    writeFileSync(join(reportDir, "verify.css"), "/* stale */");
    await docker().getContainer(victim.name).stop({ t: 3 });
    // Once Envoy has dropped it, the other checks judge the two replicas that serve.
    await healed();
    try {
      const run = await cli(["verify", "--project", s().config.projectName, "--report-dir", reportDir, "--requests", "300"]);
      assert.equal(run.code, 1, run.stderr);
      assert.doesNotMatch(run.stderr + run.stdout, /^\s+at /m, "no stack trace");
      const line = run.stdout.split("\n").find((l) => l.includes("FAIL service1 membership"));
      assert.ok(line, run.stdout);
      assert.match(
        line,
        new RegExp(`desired replica ${victim.name} \\(hostname ${victim.hostname}\\) is not serving: exited with code \\d+`),
      );
      const report = JSON.parse(readFileSync(join(reportDir, "verify.json"), "utf8")) as VerifyReport;
      assert.equal(report.passed, false);
      assert.ok((report.afterLoadSeconds ?? Infinity) < AFTER_LOAD_BOUND_S, `verdict ${report.afterLoadSeconds} s after the load`);
      assert.ok(existsSync(join(reportDir, "junit.xml")) && existsSync(join(reportDir, "verify.html")));
      assert.ok(
        !existsSync(join(reportDir, "verify.css")) || !readFileSync(join(reportDir, "verify.css"), "utf8").includes("stale"),
        "stale file removed",
      );
      // The other checks still give their own verdicts over the replicas that serve.
      assert.equal(check(report, "service1", "balance").passed, true, check(report, "service1", "balance").reason);
      assert.equal(check(report, "service1", "reachability").passed, true);
    } finally {
      await docker().getContainer(victim.name).start();
    }
    await healed();
  });

  it("containers that are not desired replicas but answer under a service's name, whatever their labels say", async () => {
    const [model] = await replicasOf("service1");
    assert.ok(model);
    const project = s().config.projectName;
    // One with no compose label at all, one that copies a replica's labels with the next number.
    const rogue = await lookalike(docker(), model.name, `${project}-rogue`, { extraLabels: {}, keepComposeLabels: false });
    const extra = await lookalike(docker(), model.name, `${project}-extra`, {
      extraLabels: { "com.docker.compose.container-number": "4" },
      keepComposeLabels: true,
    });
    try {
      // Both must be in Envoy's rotation before verify, or there would be nothing to catch.
      const running = await replicasOf("service1");
      await waitForTraffic(s().deployed.endpoints.listenerUrl, "/service/1", [...running, rogue], { timeoutMs: 60_000 });
      const outcome = await verify();
      const membership = check(outcome.report, "service1", "membership");
      assert.equal(membership.passed, false);
      assert.ok(membership.culprits.includes(rogue.name), `culprits: ${membership.culprits.join(", ")}`);
      assert.ok(membership.culprits.includes(extra.name), `culprits: ${membership.culprits.join(", ")}`);
      assert.match(
        membership.reason,
        new RegExp(
          // The service image carries compose's labels of the service it was built for, and a
          // container inherits its image's labels: the rogue may carry service1's and count as
          // an extra container of it, or none and count as a stranger. Either way it is named.
          `container ${rogue.name} \\(hostname ${rogue.hostname}, [\\d.]+\\) (answered \\d+ requests? but is not a desired replica of service1|is unnumbered, beyond the 3 desired replicas of service1)`,
        ),
      );
      assert.match(
        membership.reason,
        new RegExp(`extra container ${extra.name} \\(hostname ${extra.hostname}, [\\d.]+\\) is numbered 4, beyond the 3 desired replicas`),
      );
      assertBounded(outcome);
      assertReports(outcome);
    } finally {
      await docker().getContainer(rogue.name).remove({ force: true });
      await docker().getContainer(extra.name).remove({ force: true });
    }
    await healed();
  });

  it("a replica that answers some requests with errors: reachability names it", async () => {
    const [victim] = await replicasOf("service2");
    assert.ok(victim);
    await docker().getContainer(victim.name).stop({ t: 3 });
    const failing = await lookalike(docker(), victim.name, `${s().config.projectName}-failing`, {
      extraLabels: {},
      keepComposeLabels: true,
      env: ["FAIL_EVERY=4"],
    });
    try {
      await healed();
      const outcome = await verify();
      const reachability = check(outcome.report, "service2", "reachability");
      assert.equal(reachability.passed, false);
      assert.ok(reachability.culprits.includes(failing.name), `culprits: ${reachability.culprits.join(", ")}`);
      assert.match(
        reachability.reason,
        new RegExp(`replica container ${failing.name} \\(hostname ${failing.hostname}, [\\d.]+\\) answered \\d+ × HTTP 500`),
      );
      assert.equal(check(outcome.report, "service2", "membership").passed, true, "it is one of the desired replicas");
      assertBounded(outcome);
      assertReports(outcome);
    } finally {
      await docker().getContainer(failing.name).remove({ force: true });
      await docker().getContainer(victim.name).start();
    }
    await healed();
  });

  it("Envoy frozen (listener and admin silent): every load-balancing check fails with the reason, within the bound", async () => {
    const [envoy] = await projectContainers(docker(), s().config.projectName, "front-envoy");
    assert.ok(envoy);
    await docker().getContainer(envoy.Id).pause();
    try {
      const outcome = await verify();
      assert.equal(outcome.passed, false);
      const reachability = check(outcome.report, "service1", "reachability");
      assert.equal(reachability.passed, false);
      assert.match(reachability.reason, /the load stopped after \d+ requests in a row got no answer/);
      assert.match(check(outcome.report, "service1", "agreement").reason, /could not run: Envoy's admin/);
      assert.match(check(outcome.report, "service1", "metrics").reason, /could not run: Envoy's listener did not answer/);
      assertBounded(outcome);
      assertReports(outcome);
    } finally {
      await docker().getContainer(envoy.Id).unpause();
    }
    await healed();
  });

  it("Prometheus down, then Zipkin too, with healthy services: load balancing passes, metrics and tracing each fail with the reason", async () => {
    const project = s().config.projectName;
    const stop = async (service: string): Promise<void> => {
      for (const c of await projectContainers(docker(), project, service)) await docker().getContainer(c.Id).stop({ t: 1 });
    };
    const loadBalancingPasses = (outcome: VerifyOutcome): void => {
      for (const service of ["service1", "service2"]) {
        for (const name of ["reachability", "membership", "balance", "per-request", "agreement"] as const) {
          const c = check(outcome.report, service, name);
          assert.equal(c.passed, true, `${service} ${name}: ${c.reason}`);
        }
      }
    };
    await stop("prometheus");
    const withoutPrometheus = await verify();
    loadBalancingPasses(withoutPrometheus);
    for (const service of ["service1", "service2"]) {
      const metrics = check(withoutPrometheus.report, service, "metrics");
      assert.equal(metrics.passed, false);
      assert.match(metrics.reason, /could not run: no running prometheus container/);
      assert.equal(check(withoutPrometheus.report, service, "tracing").passed, true, "tracing does not need Prometheus");
    }
    assertBounded(withoutPrometheus);
    assertReports(withoutPrometheus);

    // Zipkin running but silent (frozen): the tracing check waits for its /health as long as a
    // deploy would wait for a health check (waitTimeoutSeconds), then says so; nothing else waits.
    const [zipkinContainer] = await projectContainers(docker(), project, "zipkin");
    assert.ok(zipkinContainer);
    await docker().getContainer(zipkinContainer.Id).pause();
    const waitTimeout = s().ctx.config.waitTimeoutSeconds;
    s().ctx.config.waitTimeoutSeconds = 3;
    let zipkinSilent: VerifyOutcome;
    try {
      zipkinSilent = await verify();
    } finally {
      s().ctx.config.waitTimeoutSeconds = waitTimeout;
      await docker().getContainer(zipkinContainer.Id).unpause();
    }
    loadBalancingPasses(zipkinSilent);
    for (const service of ["service1", "service2"]) {
      assert.match(check(zipkinSilent.report, service, "tracing").reason, /could not run: Zipkin did not answer \/health within 3 s/);
    }
    assert.equal(zipkinSilent.passed, false);

    await stop("zipkin");
    const withoutEither = await verify();
    loadBalancingPasses(withoutEither);
    for (const service of ["service1", "service2"]) {
      assert.match(check(withoutEither.report, service, "tracing").reason, /could not run: no running zipkin container/);
    }
    assert.equal(withoutEither.passed, false);
    assertReports(withoutEither);
  });
});

/**
 * A container made from a replica's image and settings, attached to the project's network under
 * the service's DNS name. With keepComposeLabels it carries the replica's compose labels (plus
 * `extraLabels`); without, none. It always carries this file's test label, for cleanup.
 */
async function lookalike(
  docker: Dockerode,
  model: string,
  name: string,
  opts: { extraLabels: Record<string, string>; keepComposeLabels: boolean; env?: string[] },
): Promise<ReplicaContainer> {
  const m = await docker.getContainer(model).inspect();
  const project = m.Config.Labels["com.docker.compose.project"] ?? "";
  const service = m.Config.Labels["com.docker.compose.service"] ?? "";
  const network = Object.keys(m.NetworkSettings.Networks).find((n) => n.startsWith(`${project}_`));
  assert.ok(network, `${model} is on the project's network`);
  const labels: Record<string, string> = {
    ...(opts.keepComposeLabels ? m.Config.Labels : {}),
    ...opts.extraLabels,
    "envoy-pipeline.test": project,
  };
  const created = await docker.createContainer({
    name,
    Image: m.Config.Image,
    Env: [...(m.Config.Env ?? []), ...(opts.env ?? [])],
    Labels: labels,
    HostConfig: { NetworkMode: network },
    NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: [service] } } },
  });
  await created.start();
  const c = await created.inspect();
  return {
    name,
    hostname: c.Config.Hostname,
    ip: c.NetworkSettings.Networks[network]?.IPAddress ?? "",
    service,
    number: Number(labels["com.docker.compose.container-number"] ?? 0),
    health: undefined,
  };
}

/** Runs the real CLI; resolves on the process's close with its exit code and output. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "harness", "cli.ts"), ...args], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}
