/**
 * `%export_onnx <model> --out PATH.onnx [--int8 dynamic|static --calibrate <data>] [--per-channel] [--opset N] [--force]`:
 * the magic over exportOnnx. (Once `%export --format slim|tfjs` lands in
 * plugins/format, this becomes its `--format onnx` branch; the flags are the same.)
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { defineMagic } from "../core/magic";
import { OBSERVERS, Observer } from "../quantize/calibrate";
import { exportOnnx, ExportOnnxResult, OPSETS } from "./export";

/** The export flags shared with a future `%export --format onnx`. */
export const ONNX_FLAGS = {
  out: { type: "string", required: true, help: "the .onnx file to write" },
  int8: { type: "choice", choices: ["dynamic", "static"], help: "int8 weights (dynamic: activations quantized at run time; static: calibrated activations too, QDQ)" },
  calibrate: { type: "value", help: "calibration inputs for --int8 static: a tensor or {xs}, e.g. 500 training images" },
  observer: { type: "choice", choices: OBSERVERS, default: "minmax", help: "how --int8 static picks activation ranges" },
  perChannel: { type: "boolean", help: "one int8 weight scale per output channel" },
  opset: { type: "number", integer: true, min: OPSETS.min, max: OPSETS.max, default: OPSETS.default, help: "ONNX opset" },
  force: { type: "boolean", help: "replace a file slimlab exported earlier" },
} as const;

export const exportOnnxMagic = defineMagic({
  name: "export_onnx",
  summary: "Writes a tfjs model as an ONNX file (float32, or int8 QDQ with slimlab's codes) to run with ONNX Runtime (loadOnnx).",
  description:
    "NHWC layers become NCHW ONNX ops with one transpose at the start and one before Flatten; BatchNormalization folds into the conv/dense before it. " +
    "--int8 static quantizes activations over ranges from slimlab's calibration observers; int8 weights are %quantize --scheme symmetric --bits 8 codes. Nothing is written when a check fails.",
  positional: [{ name: "model", help: "a tf.LayersModel variable" }],
  flags: ONNX_FLAGS,
  examples: ["%export_onnx model --out out/model.onnx", "%export_onnx model --out out/q.onnx --int8 static --calibrate xs --per-channel", "%export_onnx model --out out/d.onnx --int8 dynamic --force"],
  check(flags, given) {
    if (flags.int8 === "static" && !given.has("calibrate")) {
      throw new SlimlabError("E_MISSING_ARG", "%export_onnx: --int8 static needs --calibrate <var> with calibration inputs (a tensor or {xs}), e.g. --calibrate xs");
    }
    if (given.has("calibrate") && (!given.has("int8") || (flags.int8 !== undefined && flags.int8 !== "static"))) {
      throw new SlimlabError("E_ARG", "%export_onnx: --calibrate only applies with --int8 static; add --int8 static or drop --calibrate");
    }
    if (flags.perChannel && !given.has("int8")) throw new SlimlabError("E_ARG", "%export_onnx: --per-channel applies to int8 weights; add --int8 dynamic or --int8 static");
  },
  run: ([model], flags): Promise<ExportOnnxResult> =>
    exportOnnx(model as tf.LayersModel, flags.out as string, {
      opset: flags.opset,
      int8: flags.int8,
      calibrate: flags.calibrate,
      observer: flags.int8 === "static" ? (flags.observer as Observer | undefined) : undefined,
      perChannel: flags.perChannel,
      force: flags.force,
    }, "%export_onnx"),
});
