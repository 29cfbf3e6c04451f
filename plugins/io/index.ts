/**
 * The io plugin's public functions (the magic lives in magics.ts).
 */
export { loadAnyModel, isGraphJson } from "./load";
export { loadKerasH5 } from "./keras-h5";
export type { LoadedModel } from "./load";
export { compressGraph, GraphCompressResult } from "./graph";
export type { GraphCompressOptions, GraphWeightRow } from "./graph";
