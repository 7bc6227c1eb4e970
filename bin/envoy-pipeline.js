#!/usr/bin/env node
// The published CLI entry: registers tsx so the TypeScript harness runs without a build step.
import { register } from "tsx/esm/api";

register();
await import("../harness/cli.ts");
