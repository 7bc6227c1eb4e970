// Kept so that existing `../log.ts` imports work; the logger lives in harness/lib/log.ts.
export { log, waitingFor } from "./lib/log.ts";
