// `envoy --mode validate` in the stack's own Envoy image on generated configurations: the demo's,
// a team's with every policy, a rewrite on both match kinds and an HTTP/2 upstream; and it must
// say no to a broken one, in Envoy's words, on one line.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { assertValidEnvoyConfig, EnvoyConfigError, validateEnvoyConfig } from "../../harness/envoy/validate.ts";
import { prepareImages } from "../../harness/images/index.ts";
import { renderEnvoyConfig } from "../../harness/render/envoy-config.ts";
import { demoStack, loadStackFile } from "../../harness/stackfile/index.ts";

const images = await prepareImages({ log: () => undefined });
const ENVOY = images.env.ENVOY_IMAGE;

function teamConfig(): string {
  const dir = mkdtempSync(join(tmpdir(), "ep-validate-"));
  writeFileSync(
    join(dir, "compose.yml"),
    "services:\n  a: { expose: ['3000'] }\n  b: { expose: ['8000'] }\n  c: { expose: ['80'] }\n  d: { expose: ['8081'] }\n",
  );
  writeFileSync(
    join(dir, "envoy-pipeline.yaml"),
    "compose: compose.yml\nservices:\n" +
      "  a: { route: /api/a/, rewrite: /, policy: least_request, health: /health }\n" +
      "  b: { route: /api/b, rewrite: /x, policy: random }\n" +
      "  c: { route: /api/, policy: ring_hash, hashHeader: x-user }\n" +
      "  d: { route: /h2/, rewrite: /, protocol: http2 }\n",
  );
  return renderEnvoyConfig(loadStackFile(join(dir, "envoy-pipeline.yaml")));
}

describe("envoy --mode validate on generated configurations", () => {
  it("accepts the demo's and a team's", async () => {
    for (const yaml of [renderEnvoyConfig(demoStack()), teamConfig()]) {
      const r = await validateEnvoyConfig(ENVOY, yaml);
      assert.ok(r.ok, r.output);
    }
  });

  it("refuses a broken one, naming Envoy's reason", async () => {
    const bad = teamConfig().replace("cluster: a\n", "cluster: nosuch\n");
    await assert.rejects(
      () => assertValidEnvoyConfig(ENVOY, bad, "generated envoy.yaml"),
      (e: Error) =>
        e instanceof EnvoyConfigError &&
        /^generated envoy\.yaml: envoy --mode validate refused it: .*unknown cluster 'nosuch'$/.test(e.message),
    );
    const r = await validateEnvoyConfig(ENVOY, teamConfig().replace("lb_policy: RANDOM", "lb_policy: FASTEST"));
    assert.equal(r.ok, false);
    assert.match(r.message, /unknown enum value: 'FASTEST'/);
  });
});
