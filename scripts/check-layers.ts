// `npm run check:layers`: prints the harness's layers, low to high, and every import that runs
// from a lower layer to a higher one (exit 1 when there is one).
import { KNOWN_UPWARD, LAYERS, layerViolations } from "./layers.ts";

console.log("layers, low to high (a module imports only its own layer and lower ones):");
for (const [i, layer] of LAYERS.entries()) console.log(`  ${i + 1}. ${layer.join(", ")}`);
for (const known of KNOWN_UPWARD) console.log(`  known, to be removed: ${known}`);
const violations = layerViolations("harness");
for (const v of violations) console.error(`upward import: ${v.from} (${v.fromLayer}) -> ${v.to} (${v.toLayer})`);
console.log(violations.length === 0 ? "check:layers: no upward import" : `check:layers: ${violations.length} upward import(s)`);
process.exitCode = violations.length === 0 ? 0 : 1;
