// The foundation end to end on the real engine: build, deploy, scale 3 + 3, Envoy routing to
// every replica (STRICT_DNS on compose names), scale down, teardown leaving nothing behind.
import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "vitest";
import { z } from "zod";
import { EnvoyAdmin } from "../../harness/envoy/admin.ts";
import { projectContainers, runningReplicas, stackEndpoints } from "../../harness/stack/discover.ts";
import { scale } from "../../harness/stages/scale.ts";
import { teardown } from "../../harness/stack/teardown.ts";
import { runInEnvoyImage } from "../support/envoy-image.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";

const answerSchema = z.object({
  hostname: z.string(),
  ip: z.string(),
  serviceid: z.string(),
  success: z.literal(true),
  time: z.string().regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/),
});

/** Hostnames that answered `rounds` requests to a path through Envoy's listener. */
async function hostnamesSeen(listenerUrl: string, path: string, rounds: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < rounds; i++) {
    const res = await fetch(`${listenerUrl}${path}`);
    assert.equal(res.status, 200, `${path} answered ${res.status}`);
    const body = answerSchema.parse(await res.json());
    seen.set(body.hostname, (seen.get(body.hostname) ?? 0) + 1);
  }
  return seen;
}

describe("the stack on a real Docker engine", { timeout: 600_000 }, () => {
  let stack: TestStack | undefined;
  const s = (): TestStack => {
    assert.ok(stack, "the stack did not start");
    return stack;
  };
  /** The stack's own image of `repo`, under its content tag. */
  const builtImage = (repo: string): string => {
    const ref = s().ctx.images.find((i) => i.startsWith(`envoy-pipeline/${repo}:`));
    assert.ok(ref, `the stack builds envoy-pipeline/${repo} (${s().ctx.images.join(", ")})`);
    return ref;
  };

  beforeAll(async () => {
    stack = await startTestStack("stack", { scale: { service1: 3, service2: 3 } });
  });
  afterAll(() => stack?.stop());

  it("publishes Envoy's listener and admin on 127.0.0.1 only, on ports Docker picked", async () => {
    const { listenerUrl, adminUrl } = s().deployed.endpoints;
    assert.match(listenerUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(adminUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(listenerUrl, adminUrl);
    assert.equal(await new EnvoyAdmin(adminUrl).ready(), true);
  });

  it("the image's Envoy validates the shipped config and rejects a broken one", async () => {
    const run = (cmd: string) => runInEnvoyImage(s().ctx.docker, builtImage("front-envoy"), cmd);
    const good = await run("envoy --version && envoy --mode validate -c /etc/envoy/envoy.yaml");
    assert.equal(good.code, 0, good.out);
    assert.match(good.out, /1\.40\.\d+/);
    assert.match(good.out, /configuration '\/etc\/envoy\/envoy.yaml' OK/);
    const broken = await run(
      "sed 's/STRICT_DNS/STRICT_DNSS/' /etc/envoy/envoy.yaml > /tmp/bad.yaml && envoy --mode validate -c /tmp/bad.yaml",
    );
    assert.notEqual(broken.code, 0, "a config with an unknown cluster type must not validate");
  });

  it("deploys one healthy replica per service, each routed by Envoy", async () => {
    for (const service of ["service1", "service2"]) {
      const replicas = s().deployed.replicas[service] ?? [];
      assert.equal(replicas.length, 1, `${service} replicas after deploy`);
    }
    const seen = await hostnamesSeen(s().deployed.endpoints.listenerUrl, "/service/2", 5);
    assert.deepEqual([...seen.keys()], [s().deployed.replicas.service2?.[0]?.hostname]);
  });

  it("scales to 3 + 3: Envoy resolves every replica of the compose names and all of them answer", async () => {
    const result = await scale(s().ctx, { service1: 3, service2: 3 });
    const admin = new EnvoyAdmin(result.endpoints.adminUrl);
    for (const service of ["service1", "service2"]) {
      const replicas = result.replicas[service] ?? [];
      assert.equal(replicas.length, 3);
      const cluster = await admin.cluster(service);
      assert.deepEqual(
        cluster.hosts.map((h) => h.ip).sort(),
        replicas.map((r) => r.ip).sort(),
        `Envoy's ${service} hosts are the replicas' addresses (STRICT_DNS resolution works)`,
      );
      assert.ok(
        cluster.hosts.every((h) => h.healthy),
        `all ${service} hosts healthy`,
      );
      const seen = await hostnamesSeen(result.endpoints.listenerUrl, `/service/${service.slice(-1)}`, 30);
      const after = await admin.cluster(service);
      assert.deepEqual(
        [...seen.keys()].sort(),
        replicas.map((r) => r.hostname).sort(),
        `${service}: every replica answered; replicas ${JSON.stringify(replicas.map((r) => [r.hostname, r.ip]))}, Envoy ${JSON.stringify(after.hosts.map((h) => [h.ip, h.healthFlags, h.stats.rq_total]))}`,
      );
    }
  });

  it("scales service1 down to 1 and Envoy stops routing to the removed replicas", async () => {
    const result = await scale(s().ctx, { service1: 1 });
    const only = result.replicas.service1?.[0];
    assert.ok(only);
    const seen = await hostnamesSeen(result.endpoints.listenerUrl, "/service/1", 20);
    assert.deepEqual([...seen.keys()], [only.hostname]);
  });

  it("routes only its two prefixes: /service/10 and unknown paths get Envoy's 404", async () => {
    for (const path of ["/service/10", "/nothing-here", "/service"]) {
      const res = await fetch(`${s().deployed.endpoints.listenerUrl}${path}`);
      assert.equal(res.status, 404, `${path} answered ${res.status}`);
      // Envoy's "no route" reply (its local_reply_config) carries the status and the request id; a
      // replica's own 404 has only success and error.
      const body = z
        .object({ success: z.literal(false), error: z.string(), status: z.number(), request_id: z.string() })
        .strict()
        .parse(await res.json());
      assert.deepEqual(
        { ...body, request_id: "" },
        { success: false, error: `no route for GET ${path}`, status: 404, request_id: "" },
        `${path}: the 404 comes from Envoy's router, not a replica`,
      );
    }
  });

  it("teardown removes every container, network and volume of the project and nothing else", async () => {
    const { docker } = s().ctx;
    const bystander = await docker.createContainer({
      Image: builtImage("service"),
      Cmd: ["node", "-e", "setTimeout(()=>{}, 60000)"],
      Labels: { "com.docker.compose.project": `${s().config.projectName}x` },
    });
    try {
      const t0 = Date.now();
      const r = await teardown(docker, s().config.projectName);
      const seconds = (Date.now() - t0) / 1000;
      assert.ok(r.containers.length >= 3, `removed ${r.containers.join(", ")}`);
      assert.equal((await projectContainers(docker, s().config.projectName)).length, 0);
      const nets = await docker.listNetworks({ filters: { label: [`com.docker.compose.project=${s().config.projectName}`] } });
      assert.equal(nets.length, 0);
      assert.equal((await runningReplicas(docker, s().config.projectName, "service1")).length, 0);
      await assert.rejects(stackEndpoints(docker, s().config.projectName), /no running front-envoy/);
      // A container of a project whose name merely starts the same way is not ours.
      const still = await docker.getContainer(bystander.id).inspect();
      assert.equal(still.Id, bystander.id);
      process.stderr.write(`teardown: ${seconds.toFixed(1)} s\n`);
    } finally {
      await docker.getContainer(bystander.id).remove({ force: true });
    }
  });
});
