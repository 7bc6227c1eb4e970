import { describe, expect, it } from "vitest";
import { ConfigError } from "../../harness/config.ts";
import { EngineUnavailableError } from "../../harness/docker/engine.ts";
import { ComposeError } from "../../harness/stack/compose-cli.ts";
import { exitCodeOf, InputError, PipelineError } from "../../harness/lib/errors.ts";
import { PollTimeout } from "../../harness/lib/poll.ts";
import { parseSettings } from "../../harness/settings.ts";
import { VerifyInputError } from "../../harness/verify/schema.ts";

describe("one error shape (harness/lib/errors.ts)", () => {
  it("bad input exits 2: config values and verify's inputs", () => {
    for (const e of [new ConfigError("x"), new VerifyInputError("x"), new InputError("x")]) {
      expect(e).toBeInstanceOf(PipelineError);
      expect(exitCodeOf(e)).toBe(2);
    }
  });

  it("a failure of the pipeline exits 1, and keeps its own name and message", () => {
    const e = new EngineUnavailableError("no engine");
    expect([e instanceof PipelineError, e.name, e.message, exitCodeOf(e)]).toEqual([true, "EngineUnavailableError", "no engine", 1]);
    expect(exitCodeOf(new PollTimeout("late"))).toBe(1);
    expect(new ComposeError("docker compose up", { code: 1, stdout: "", stderr: "" } as never)).toBeInstanceOf(PipelineError);
  });

  it("anything else thrown exits 1, never 2", () => {
    expect(exitCodeOf(new TypeError("bug"))).toBe(1);
    expect(exitCodeOf("a string")).toBe(1);
    expect(exitCodeOf(undefined)).toBe(1);
  });
});

describe("process settings (harness/settings.ts)", () => {
  it("defaults when nothing is set, and an empty value counts as unset", () => {
    expect(parseSettings({ ENVOY_PIPELINE_STATE_DIR: "", ENVOY_PIPELINE_DEBUG: "" })).toEqual({
      debug: false,
      provision: undefined,
      underJenkins: false,
      stateDir: undefined,
      imageBuilds: 2,
      buildCacheKeep: undefined,
      noPull: false,
      cluster: undefined,
    });
  });

  it("one reading of a flag everywhere: 1, true or yes", () => {
    for (const v of ["1", "true", "YES"]) expect(parseSettings({ ENVOY_PIPELINE_DEBUG: v }).debug).toBe(true);
    for (const v of ["0", "no", "off"]) expect(parseSettings({ ENVOY_PIPELINE_DEBUG: v }).debug).toBe(false);
  });

  it("reads provision as yes, no or not said, and the other values as given", () => {
    const s = parseSettings({
      ENVOY_PIPELINE_PROVISION: "false",
      JENKINS_URL: "https://ci/",
      ENVOY_PIPELINE_STATE_DIR: "/tmp/s",
      ENVOY_PIPELINE_IMAGE_BUILDS: "3",
      ENVOY_PIPELINE_BUILD_CACHE_KEEP: "off",
      ENVOY_PIPELINE_NO_PULL: "1",
      ENVOY_PIPELINE_CLUSTER: "c1",
    });
    expect(s).toEqual({
      debug: false,
      provision: false,
      underJenkins: true,
      stateDir: "/tmp/s",
      imageBuilds: 3,
      buildCacheKeep: "off",
      noPull: true,
      cluster: "c1",
    });
    expect(parseSettings({ ENVOY_PIPELINE_PROVISION: "yes" }).provision).toBe(true);
  });

  it("says no to a bad value, naming the variable, as bad input (exit 2)", () => {
    const bad = (env: NodeJS.ProcessEnv) => {
      try {
        parseSettings(env);
      } catch (err) {
        return [exitCodeOf(err), (err as Error).message];
      }
      return null;
    };
    expect(bad({ ENVOY_PIPELINE_PROVISION: "maybe" })).toEqual([
      2,
      expect.stringMatching(/^bad environment: ENVOY_PIPELINE_PROVISION: must be 1/),
    ]);
    expect(bad({ ENVOY_PIPELINE_IMAGE_BUILDS: "0" })?.[1]).toMatch(/ENVOY_PIPELINE_IMAGE_BUILDS/);
    expect(bad({ ENVOY_PIPELINE_IMAGE_BUILDS: "two" })?.[1]).toMatch(/ENVOY_PIPELINE_IMAGE_BUILDS/);
  });
});
