// The node half of the contract between the Jenkins library and the CLI (issue 10). The Groovy
// half, jenkins-test's CliContractTests, renders every step's command line (defaults, every key at
// its bounds, odd strings), runs it through /bin/sh as the sh step does, and commits the argument
// vectors with the library's KEYS bounds to jenkins-test/cli-contract.json. Here every vector is
// parsed by the CLI's real commander program (buildProgram) and its options go through the real
// config schema; and the bounds, names and Node version the library checks before a build starts
// must be the CLI's own, so that a value the library accepts never fails on the agent and the two
// cannot drift apart unnoticed.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { CommanderError } from "commander";
import { describe, it } from "vitest";
import { z } from "zod";
import { buildProgram, cliLayer, type StageOptions } from "../../harness/cli.ts";
import { configSchema, defaults, projectNameSchema, resolveConfig } from "../../harness/config.ts";
import { repoRoot } from "../../harness/lib/paths.ts";

const contractSchema = z.object({
  nodeVersion: z.string().regex(/^\d+\.\d+\.\d+$/),
  projectName: z.object({ pattern: z.string().min(1), maxLength: z.number().int().positive() }),
  serviceName: z.string().min(1),
  integerBounds: z.record(z.string(), z.object({ flag: z.string().startsWith("--"), min: z.number().int(), max: z.number().int() })),
  commands: z.array(z.object({ step: z.string().startsWith("envoy"), argv: z.array(z.string()).min(1) })).min(1),
});

const contract = contractSchema.parse(JSON.parse(readFileSync(resolve(repoRoot, "jenkins-test/cli-contract.json"), "utf8")));

/**
 * Keys where the library is deliberately stricter than the CLI, with the reason; anywhere else
 * the bounds must be equal. (docs/jenkins.md, "Config check".)
 */
const STRICTER_IN_THE_LIBRARY: Record<string, string> = {
  "replicas.min": "the harness can scale a service to 0, but Verify has nothing to balance across",
};

interface Parsed {
  command: string;
  options: StageOptions;
}

/** `argv` (after the program name) parsed by the CLI's own program, with every action replaced: nothing runs. */
async function parse(argv: readonly string[]): Promise<Parsed> {
  const program = buildProgram();
  const silent = { writeOut: () => {}, writeErr: () => {} };
  let parsed: Parsed | undefined;
  program.exitOverride().configureOutput(silent);
  for (const command of program.commands) {
    command.exitOverride().configureOutput(silent);
    command.action((options: StageOptions) => {
      parsed = { command: command.name(), options };
    });
  }
  await program.parseAsync([...argv], { from: "user" });
  assert.ok(parsed, `no command ran for ${JSON.stringify(argv)}`);
  return parsed;
}

/** The options of `argv` as the CLI's config would take them: through its layer and zod schema. */
async function configOf(argv: readonly string[]): Promise<void> {
  const { options } = await parse(argv);
  // The compose file must exist for resolveConfig; which one is not what this contract is about.
  resolveConfig(defaults({}), cliLayer(options), { composeFile: resolve(repoRoot, "docker-compose.yml") });
}

/** Why the CLI refuses `argv` (commander or the config schema), or undefined when it takes it. */
async function refusal(argv: readonly string[]): Promise<string | undefined> {
  try {
    await configOf(argv);
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError || err instanceof Error) return err.message;
    throw err;
  }
}

/** The subcommand of a rendered command that carries `flag`. */
function subcommandWith(flag: string): string {
  const command = contract.commands.find((c) => c.argv.includes(flag));
  assert.ok(command, `no rendered command carries ${flag}`);
  return command.argv[0]!;
}

const argvFor = (key: string, flag: string, value: number): string[] =>
  key === "replicas" ? [subcommandWith(flag), flag, `service1=${value}`] : [subcommandWith(flag), flag, String(value)];

describe("the Jenkins library and the CLI agree", () => {
  it(`the CLI parses and accepts every command the library renders (${contract.commands.length})`, async () => {
    for (const { step, argv } of contract.commands) {
      const parsed = await parse(argv);
      assert.equal(parsed.command, argv[0], `${step}: ${JSON.stringify(argv)}`);
      assert.equal(await refusal(argv), undefined, `${step}: ${JSON.stringify(argv)}`);
    }
  });

  it("takes odd strings as single, unchanged values", async () => {
    const odd = contract.commands.find((c) => c.step === "envoyVerify" && c.argv.some((a) => a.includes("`x`")));
    assert.ok(odd);
    const { options } = await parse(odd.argv);
    assert.equal(options.reportDir, odd.argv[odd.argv.indexOf("--report-dir") + 1]);
    assert.match(options.reportDir ?? "", /'quoted' "dq" \$HOME `x` \$\(y\)/);
  });

  for (const [key, bound] of Object.entries(contract.integerBounds)) {
    it(`${key} (${bound.flag}): the library's range ${bound.min}..${bound.max} is the CLI's`, async () => {
      assert.equal(await refusal(argvFor(key, bound.flag, bound.min)), undefined, `${key} = ${bound.min}`);
      assert.equal(await refusal(argvFor(key, bound.flag, bound.max)), undefined, `${key} = ${bound.max}`);
      assert.ok(await refusal(argvFor(key, bound.flag, bound.max + 1)), `the CLI takes ${key} = ${bound.max + 1}, the library refuses it`);
      const below = await refusal(argvFor(key, bound.flag, bound.min - 1));
      if (STRICTER_IN_THE_LIBRARY[`${key}.min`] !== undefined) {
        assert.equal(below, undefined, `${key}.min is listed as stricter in the library, but the CLI refuses ${bound.min - 1} too`);
      } else {
        assert.ok(below, `the CLI takes ${key} = ${bound.min - 1}, the library refuses it`);
      }
    });
  }

  it("the check can say no: a bound out of step with the CLI is caught", async () => {
    // As if the library allowed 4096 in flight: the CLI refuses it, so this pair would fail above.
    assert.ok(await refusal(["verify", "--concurrency", "4096"]));
    assert.ok(await refusal(["verify", "--frobnicate", "1"]), "an option the CLI lacks is refused");
  });

  it("project and service names: the library's patterns are the CLI's", () => {
    const project = new RegExp(`^(?:${contract.projectName.pattern})$`);
    const projectOk = (name: string): boolean => project.test(name) && name.length <= contract.projectName.maxLength;
    for (const name of ["p", "jenkins-a_b-42", "x".repeat(63), "x".repeat(64), "A", "-a", "_a", "a.b", "a b", "", "ä", "1"]) {
      assert.equal(projectNameSchema.safeParse(name).success, projectOk(name), `project name ${JSON.stringify(name)}`);
    }
    const service = new RegExp(`^(?:${contract.serviceName})$`);
    for (const name of ["service1", "a.b_c-1", "S", "-a", ".a", "a b", "", "a/b"]) {
      assert.equal(configSchema.shape.scale.safeParse({ [name]: 1 }).success, service.test(name), `service name ${JSON.stringify(name)}`);
    }
  });

  it("the Node.js version the preflight asks for is package.json's engines.node", () => {
    const pkg = z
      .object({ engines: z.object({ node: z.string() }) })
      .parse(JSON.parse(readFileSync(resolve(repoRoot, "package.json"), "utf8")));
    assert.equal(pkg.engines.node, `>=${contract.nodeVersion}`);
  });
});
