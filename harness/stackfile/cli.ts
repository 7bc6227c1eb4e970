// The `init` command: commander wiring only (init.ts does the work).
import type { Command } from "commander";
import { initTeamRepo } from "./init.ts";

type Action = <A extends unknown[]>(fn: (...args: A) => Promise<number | undefined>) => (...args: A) => Promise<void>;

export function registerInitCommand(program: Command, action: Action): void {
  program
    .command("init")
    .description("write a starter envoy-pipeline.yaml and Jenkinsfile from a compose file (asks nothing, prints its guesses)")
    .option("--compose-file <path>", "the team's compose file", "docker-compose.yml")
    .action(
      action(async (o: { composeFile: string }) => {
        const r = initTeamRepo({ composeFile: o.composeFile, dir: process.cwd() });
        for (const line of r.guesses) process.stdout.write(`guessed ${line}\n`);
        for (const file of r.written) process.stdout.write(`wrote ${file}\n`);
        return 0;
      }),
    );
}
