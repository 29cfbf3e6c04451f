/**
 * `%export <model> --format slim|tfjs|onnx --out PATH`: the magic over
 * exportModel (export.ts). `%export q --format slim --out out/q.slim
 * --huffman` runs exactly `await exportModel(q, {format: "slim", out:
 * "out/q.slim", huffman: true})`, and `%export m --format onnx --out
 * out/m.onnx --int8 static --calibrate xs --per-channel` runs
 * `exportModel(m, {format: "onnx", ..., int8: "static", calibrate: xs,
 * perChannel: true})`, which writes through exportOnnx (plugins/onnx).
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { defineMagic, flagName } from "../core/magic";
import { OBSERVERS, Observer } from "../quantize/calibrate";
import { OPSETS } from "../onnx/export";
import { EXPORT_FORMATS, ExportResult, exportModel, formatProblem } from "./export";

const flag = (option: string) => `--${flagName(option)}`;
const INT8 = ["dynamic", "static"] as const;

export const exportMagic = defineMagic({
  name: "export",
  summary: "Write a model to disk: one .slim file (weights stored as their codes), a stock tfjs model.json directory, or an ONNX file (float32 or int8) for ONNX Runtime.",
  description:
    "slim: the file the size reports call \"file (.slim)\"; loadSlim reads it (docs/slim-format.md). tfjs: model.json + shards for tf.loadLayersModel; per-tensor 8/16-bit linear and float16 weights as tfjs' uint8/uint16/float16, the rest float32. " +
    "onnx: an .onnx file for loadOnnx / ONNX Runtime (docs/onnx.md): float32, or with --int8 int8 weights in slimlab's symmetric 8-bit codes (dynamic: activations quantized per batch at run time; static: activations too, over ranges calibrated on --calibrate inputs, as QDQ). " +
    "Refuses, writing nothing, an existing file or folder without --force, and with --force anything slimlab did not write; a flag of another format; for slim and tfjs a model whose quantized weights changed since %quantize.",
  positional: [{ name: "model", help: "a tf.LayersModel (e.g. a %quantize or %prune result)" }],
  flags: {
    format: { type: "choice", choices: EXPORT_FORMATS, required: true, help: "slim (one file), tfjs (model.json directory) or onnx (one .onnx file)" },
    out: { type: "string", required: true, help: "the file to write (ends in .slim or .onnx) or the tfjs directory" },
    force: { type: "boolean", help: "replace an earlier slimlab save at --out (never other files)" },
    huffman: { type: "boolean", help: "slim: Huffman-code the codes (as %quantize --huffman counts them)" },
    sparse: { type: "boolean", help: "slim: kernels with zeros in relative-index CSR when smaller (as %size's sparse column counts them)" },
    int8: { type: "choice", choices: INT8, help: "onnx: int8 weights; dynamic quantizes activations at run time, static over calibrated ranges (needs --calibrate); default float32" },
    calibrate: { type: "value", help: "onnx with --int8 static: calibration inputs, a tensor or {xs} (e.g. 500 training images, never test data)" },
    observer: { type: "choice", choices: OBSERVERS, help: "onnx with --int8 static: how activation ranges are chosen (default minmax)" },
    perChannel: { type: "boolean", help: "onnx with --int8: one weight scale per output channel" },
    opset: { type: "number", integer: true, min: OPSETS.min, max: OPSETS.max, help: `onnx: the ONNX opset (default ${OPSETS.default})` },
  },
  examples: [
    "%export q --format slim --out out/lenet.slim --huffman",
    "%export pruned --format slim --out out/pruned.slim --sparse --force",
    "const r = %export q --format tfjs --out out/lenet-tfjs; r.bytes",
    "%export model --format onnx --out out/lenet.onnx",
    "%export model --format onnx --out out/lenet-int8.onnx --int8 static --calibrate xs --per-channel",
    "%export model --format onnx --out out/lenet-dyn.onnx --int8 dynamic --force",
  ],
  run: ([model], flags): Promise<ExportResult> => {
    if (model === undefined) throw new SlimlabError("E_MISSING_ARG", "%export: missing <model>; e.g. %export q --format slim --out out/q.slim");
    return exportModel(model as tf.LayersModel, {
      format: flags.format as (typeof EXPORT_FORMATS)[number],
      out: flags.out as string,
      force: flags.force,
      huffman: flags.huffman,
      sparse: flags.sparse,
      int8: flags.int8,
      calibrate: flags.calibrate,
      observer: flags.observer as Observer | undefined,
      perChannel: flags.perChannel,
      opset: flags.opset,
    });
  },
  // On the literal flags before the cell runs, and again when the line runs (exportModel checks the same).
  // `given` says which flags are on the line: a {expr} value (e.g. --calibrate) is known only when it runs.
  check(flags, given) {
    if (flags.format === undefined || flags.out === undefined) return;
    const on = new Set([...given].filter((k) => flags[k as keyof typeof flags] !== false).map(String));
    const problem = formatProblem(flags.format, flags.out, on, flag);
    if (problem !== undefined) throw new SlimlabError("E_ARG", `%export: ${problem}`);
    if (flags.int8 === "static" && !on.has("calibrate")) {
      throw new SlimlabError("E_MISSING_ARG", "%export: --int8 static needs --calibrate <var> with calibration inputs (a tensor or {xs}, e.g. held-out training images); e.g. --calibrate xs");
    }
    for (const k of ["calibrate", "observer"] as const) {
      if (on.has(k) && flags.int8 !== "static") throw new SlimlabError("E_ARG", `%export: ${flag(k)} applies with --int8 static only; add --int8 static or drop ${flag(k)}`);
    }
    if (on.has("perChannel") && !on.has("int8")) throw new SlimlabError("E_ARG", "%export: --per-channel applies to int8 weights; add --int8 dynamic or --int8 static");
  },
});

/** Every magic of this plugin, for registration. */
export const formatMagics = [exportMagic] as const;
