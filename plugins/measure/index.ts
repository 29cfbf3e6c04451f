/**
 * The measure plugin: acceptance you can measure and see. Plain functions
 * (the magics in magics.ts call exactly these) and their result types.
 */
export { summary, SummaryResult } from "./summary";
export type { SummaryRow, SummaryTotals } from "./summary";
export { layerCost, layerCostIn, layerCalls, modelCost, elements } from "./cost";
export type { LayerCost, LayerCall, ModelCost, ExampleShape } from "./cost";
export { size, artifactsOf, gzipBytes, SizeResult } from "./size";
export type { SizeOptions, SizeRow, FileSize } from "./size";
export { csrCount, sparseRule, weightStorage, pointerWidth, INDEX_BITS } from "./sparse";
export type { CsrCount, CsrOptions, SparseRule, WeightStorage } from "./sparse";
export { percentile, timingStats } from "./percentile";
export type { TimingStats } from "./percentile";
export { bench, BenchResult } from "./bench";
export type { BenchOptions, BenchRow } from "./bench";
export { evaluateModel, EvaluationResult } from "./evaluate";
export type { EvaluateOptions } from "./evaluate";
export { compare, paretoFront, CompareResult } from "./compare";
export type { CompareOptions, CompareRow } from "./compare";
export { backendsBench, BackendsResult } from "./backends";
export type { BackendsOptions, BackendRows } from "./backends";
export { optimize, OptimizeResult } from "./optimize";
export type { OptimizeOptions, FoldStep, FuseStep, RemoveStep, SkipNote } from "./optimize";
export { foldBatchNorm, batchNormAffine } from "./fold";
export type { BatchNormParams } from "./fold";
export { countKernels } from "./kernels";
export { kernelTimes, KernelTimes } from "./profile";
export type { KernelTime } from "./profile";
export type { KernelCount } from "./kernels";
