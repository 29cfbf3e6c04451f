/**
 * The .slim model format (docs/slim-format.md): one binary file per model,
 * quantized weights stored as their codes. saveSlim/loadSlim are the Node
 * API; container.ts, decode.ts and build.ts are the decode core a browser
 * loader can reuse.
 */
export { saveSlim, loadSlim, encodeSlim } from "./slim";
export type { SlimSaveOptions, SlimSaveResult, SlimTensorInfo, SlimEncodeOptions, SlimEncoding } from "./slim";
export { exportModel, ExportResult, EXPORT_FORMATS } from "./export";
export type { ExportOptions, ExportFormat } from "./export";
export { exportMagic } from "./magic";
