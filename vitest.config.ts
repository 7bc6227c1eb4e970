// The test runner: vitest, in two projects.
// - unit: fast, no Docker engine; files run in parallel (`npm run test:unit`).
// - integration: talks to the real Docker engine, Envoy, Prometheus and Zipkin. Files run one at a
//   time, after the unit tests: they share the engine and a 2-core machine, and the balance
//   statistics must not compete with another file's stack for CPU.
// Reports: the terminal, a JUnit file for Jenkins' `junit`, and a JSON file that
// scripts/test-summary.ts turns into the run's closing "N passed, N failed" line.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The harness's state folder is a temporary one during tests (never the checkout's).
    globalSetup: ["test/support/global-setup.ts"],
    reporters: ["default", "junit", "json"],
    outputFile: { junit: "build/test-results/vitest.xml", json: "build/test-results/vitest.json" },
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // A generous bound for a busy 2-core machine; unit tests take milliseconds to seconds.
          testTimeout: 60_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          fileParallelism: false,
          // Stacks come up in hooks; each suite sets its own bound where it needs more.
          testTimeout: 900_000,
          hookTimeout: 900_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
