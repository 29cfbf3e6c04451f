/**
 * The analyze plugin's public functions (the magic lives in magics.ts).
 */
export { analyze, ANALYZE_SCHEMES } from "./analyze";
export type { AnalyzeOptions, AnalyzeScheme } from "./analyze";
export { AnalyzeResult, changeText } from "./result";
export type { AnalyzeRow, ChangeKind } from "./result";
export { readPlan } from "../toolkit/plan";
export type { CompressionPlan } from "../toolkit/plan";
