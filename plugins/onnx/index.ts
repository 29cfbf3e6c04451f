/** ONNX export (float32 and int8 QDQ) and ONNX Runtime inference; `%export --format onnx` (plugins/format) writes through exportOnnx. */
export { exportOnnx, ExportOnnxOptions, ExportOnnxResult, OPSETS } from "./export";
export { loadOnnx, LoadOnnxOptions, OnnxModel, coreCount } from "./runtime";
export { convertModel, SUPPORTED } from "./convert";
