// The named checks. Each takes what was measured (the harness's tally, Envoy's counters, the
// replica list) and returns a verdict with a one-line reason that names the culprit. They do no
// I/O, so every "no" can be unit-tested with made-up numbers.
export { agreementCheck } from "./agreement.ts";
export { balanceCheck, NO_BALANCE_TEST } from "./balance.ts";
export { type BalanceInput, expectedShares, MIN_POWER, sequentialBalanceNeeded, type WeightExpectation } from "./expected-shares.ts";
export { describeReplica } from "./format.ts";
export { membershipCheck } from "./membership.ts";
export { perRequestCheck, perRequestSampleSize } from "./per-request.ts";
export { reachabilityCheck } from "./reachability.ts";
export { pinnedReplica, rpcCheck, type RpcInput } from "./rpc.ts";
