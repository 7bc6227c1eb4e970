#!/usr/bin/env node
// The published CLI entry: the harness compiled to JavaScript (dist/, built by npm's prepare and
// prepack scripts from harness/ with tsconfig.build.json). In a checkout, `npm run build` refreshes it.
import { enableCompileCache } from "node:module";

// V8's code cache on disk (Node >= 22.1): later starts skip compiling the CLI and its dependencies.
enableCompileCache?.();
await import("../dist/harness/cli.js");
