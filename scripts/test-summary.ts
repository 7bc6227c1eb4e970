// Prints the test run's closing line, "tests: N passed, N failed[, N skipped]", from what the two
// runners wrote: vitest's JSON report and Maven Surefire's XML reports. One line that any CI can
// read, whichever runner's own summary scrolled past. Exits 1 when a report is missing or unreadable:
// a run that cannot be counted did not pass.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { formatIssues } from "../harness/lib/errors.ts";

const root = join(import.meta.dirname, "..");
const vitestJson = join(root, "build", "test-results", "vitest.json");
const surefireDir = join(root, "jenkins-test", "target", "surefire-reports");

const vitestReport = z.object({
  numPassedTests: z.number().int(),
  numFailedTests: z.number().int(),
  numPendingTests: z.number().int(),
  numTodoTests: z.number().int(),
});

/** A Surefire file's root element: `<testsuite ... tests="3" errors="0" skipped="0" failures="0">`. */
const surefireCounts = z.object({
  tests: z.coerce.number().int(),
  failures: z.coerce.number().int(),
  errors: z.coerce.number().int(),
  skipped: z.coerce.number().int(),
});

function attributesOf(xml: string): Record<string, string> {
  const open = /<testsuite\b([^>]*)>/.exec(xml)?.[1] ?? "";
  return Object.fromEntries([...open.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
}

function main(): number {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  if (!existsSync(vitestJson)) {
    process.stderr.write(`test-summary: ${vitestJson} is missing: vitest did not finish\n`);
    return 1;
  }
  const v = vitestReport.safeParse(JSON.parse(readFileSync(vitestJson, "utf8")));
  if (!v.success) {
    process.stderr.write(`test-summary: ${vitestJson}: ${formatIssues(v.error)}\n`);
    return 1;
  }
  passed += v.data.numPassedTests;
  failed += v.data.numFailedTests;
  skipped += v.data.numPendingTests + v.data.numTodoTests;
  const files = existsSync(surefireDir) ? readdirSync(surefireDir).filter((f) => /^TEST-.*\.xml$/.test(f)) : [];
  if (files.length === 0) {
    process.stderr.write(`test-summary: no Surefire reports in ${surefireDir}: the Jenkins library tests did not run\n`);
    return 1;
  }
  for (const f of files) {
    const c = surefireCounts.safeParse(attributesOf(readFileSync(join(surefireDir, f), "utf8")));
    if (!c.success) {
      process.stderr.write(`test-summary: ${f}: ${formatIssues(c.error)}\n`);
      return 1;
    }
    const bad = c.data.failures + c.data.errors;
    passed += c.data.tests - bad - c.data.skipped;
    failed += bad;
    skipped += c.data.skipped;
  }
  process.stdout.write(`tests: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}\n`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = main();
