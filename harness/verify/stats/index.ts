// The statistics behind the balance check, written out so that every number in the report can be traced.
export { lnGamma, gammaP, gammaQ, chi2Cdf, chi2Sf, chi2Isf, ncx2Cdf, ncx2Sf } from "./distributions.ts";
export {
  toProbabilities,
  chiSquareTest,
  noncentralityPerRequest,
  alternatives,
  hardestAlternative,
  chiSquarePower,
  requiredNoncentrality,
  chiSquareSampleSize,
  type ChiSquareResult,
  type Alternative,
  type SampleSizePlan,
} from "./chi-square.ts";
export {
  roundRobinSlackPerWorker,
  roundRobinGroupSlackPerWorker,
  roundRobinBound,
  roundRobinDetects,
  type RoundRobinBoundInput,
  type RoundRobinBoundResult,
} from "./round-robin.ts";
export { percentileSorted, summarizeLatencies, latencyHistogram, type LatencySummary } from "./latency.ts";
