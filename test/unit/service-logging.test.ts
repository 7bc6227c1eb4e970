// The service's stdout logger batches lines (services/src/logging.ts): nothing may be lost or
// reordered, also when the process exits right after logging, whether it exits by itself or by
// process.exit() (main.ts's shutdown and crash paths).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, it } from "vitest";

const loggingModule = fileURLToPath(new URL("../../services/src/logging.ts", import.meta.url));

/** Runs a script that logs through createLogger() to stdout; resolves with its stdout lines. */
function run(body: string): Promise<string[]> {
  const script = `import { createLogger } from ${JSON.stringify(loggingModule)};\nconst logger = createLogger();\n${body}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out.split("\n").filter((l) => l !== "")) : reject(new Error(`exit ${code}`))));
  });
}

describe("service logger on stdout", () => {
  it("keeps every line in order when process.exit() follows at once", async () => {
    const lines = await run(`for (let i = 0; i < 5000; i++) logger.info("request", { i });\nlogger.debug("hidden");\nprocess.exit(0);`);
    assert.equal(lines.length, 5000);
    for (const [i, line] of lines.entries()) assert.equal(JSON.parse(line).i, i);
  });

  it("flushes pending lines when the event loop empties, and puts a warning after the lines before it", async () => {
    const lines = await run(`logger.info("first");\nlogger.warn("second");\nlogger.info("third");`);
    assert.deepEqual(
      lines.map((l) => JSON.parse(l).msg),
      ["first", "second", "third"],
    );
  });
});
