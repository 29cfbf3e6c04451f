/**
 * The io plugin's public functions (the magic lives in magics.ts).
 */
export { loadAnyModel, isGraphJson } from "./load";
export type { LoadedModel } from "./load";
export { compressGraph, GraphCompressResult } from "./graph";
export type { GraphCompressOptions, GraphWeightRow } from "./graph";
