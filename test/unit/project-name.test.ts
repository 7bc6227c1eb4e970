// The compose project name of a Jenkins build (issue 10, defect 4): unique per build, readable,
// compose-valid, at most 63 characters.
import { strict as assert } from "node:assert";
import { describe, it } from "vitest";
import { defaultProjectName, projectNameSchema } from "../../harness/config.ts";
import { PROJECT_NAME_MAX_LENGTH, projectNameFromBuildTag } from "../../harness/lib/project-name.ts";

/** The multibranch BUILD_TAG of the issue: a Dependabot branch, builds #5 and #6. */
const dependabot = (build: number): string => `jenkins-team-envoy-pipeline-dependabot%2Fnpm_and_yarn%2Fundici-7.30.2-${build}`;

const valid = (name: string | undefined): void => {
  assert.ok(name !== undefined);
  assert.ok(name.length <= PROJECT_NAME_MAX_LENGTH, `${name} is ${name.length} characters`);
  assert.equal(projectNameSchema.safeParse(name).success, true, `${name} is not a compose project name`);
};

describe("projectNameFromBuildTag", () => {
  it("gives two builds of one long multibranch job two names that keep the branch and the build number", () => {
    const five = projectNameFromBuildTag(dependabot(5));
    const six = projectNameFromBuildTag(dependabot(6));
    valid(five);
    valid(six);
    assert.notEqual(five, six);
    assert.match(five!, /^pipeline-dependabot-2fnpm_and_yarn-2fundici-7-30-2-5-[0-9a-f]{8}$/);
    assert.match(six!, /-7-30-2-6-[0-9a-f]{8}$/);
  });

  it("is what the CLI uses by default under Jenkins (defaultProjectName)", () => {
    assert.notEqual(defaultProjectName({ BUILD_TAG: dependabot(5) }), defaultProjectName({ BUILD_TAG: dependabot(6) }));
    assert.equal(defaultProjectName({ BUILD_TAG: dependabot(5) }), projectNameFromBuildTag(dependabot(5)));
  });

  it("leaves a tag that already is a valid short name unchanged", () => {
    assert.equal(projectNameFromBuildTag("jenkins-envoy-app-main-42"), "jenkins-envoy-app-main-42");
    assert.equal(projectNameFromBuildTag(" jenkins-a-1 "), "jenkins-a-1");
  });

  it("adds the hash when cleaning loses information, so distinct tags never share a name", () => {
    const spaced = projectNameFromBuildTag("jenkins-Envoy Pipeline/main-42");
    const dashed = projectNameFromBuildTag("jenkins-envoy-pipeline-main-42");
    valid(spaced);
    assert.match(spaced!, /^jenkins-envoy-pipeline-main-42-[0-9a-f]{8}$/);
    assert.notEqual(spaced, dashed);
  });

  it("is the same for the same tag: every stage and the teardown of one build address one project", () => {
    assert.equal(projectNameFromBuildTag(dependabot(7)), projectNameFromBuildTag(dependabot(7)));
  });

  it("keeps names valid for any tag: upper case, symbols, leading punctuation, only symbols, very long", () => {
    for (const tag of ["%%%", "__x", "-A-", "ÄÖÜ-ß-1", "a".repeat(500), `${"x/".repeat(80)}9`, "jenkins-ä-".repeat(20)]) {
      valid(projectNameFromBuildTag(tag));
    }
  });

  it("gives no name for a blank tag", () => {
    assert.equal(projectNameFromBuildTag(""), undefined);
    assert.equal(projectNameFromBuildTag("   "), undefined);
  });
});
