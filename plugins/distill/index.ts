/**
 * Knowledge distillation for TensorFlow.js models (Hinton, Vinyals & Dean
 * 2015; hints after Romero et al. 2015). The magic is declared in magics.ts.
 */
export { distill } from "./distill";
export type { ComparisonRow, DistillResult, StudentRun } from "./distill";
export { DISTILL_DEFAULTS } from "./options";
export type { DistillOptions, DistillCommonOptions, GivenStudent, NarrowedStudent } from "./options";
export { distillationLoss, softTargetLoss, hardLabelLoss } from "./loss";
export type { DistillLossOptions } from "./loss";
export { narrowStudent, layerWidths } from "./student";
export { parseHint, hintLoss } from "./hint";
export type { DistillCallbacks, LoopHistory, Score } from "./loop";
export { curvesFigure } from "./chart";
