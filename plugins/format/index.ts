/**
 * The .slim model format (docs/slim-format.md): one binary file per model,
 * quantized weights stored as their codes. saveSlim/loadSlim are the Node
 * API; container.ts, decode.ts and build.ts are the decode core a browser
 * loader can reuse.
 */
export { saveSlim, loadSlim } from "./slim";
export type { SlimSaveOptions, SlimSaveResult, SlimTensorInfo } from "./slim";
