/**
 * `%export <model> --format slim|tfjs --out PATH`: the magic over
 * exportModel (export.ts). `%export q --format slim --out out/q.slim
 * --huffman` runs exactly `await exportModel(q, {format: "slim", out:
 * "out/q.slim", huffman: true})`.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { defineMagic } from "../core/magic";
import { EXPORT_FORMATS, ExportResult, exportModel, formatProblem } from "./export";

export const exportMagic = defineMagic({
  name: "export",
  summary: "Write a model to disk: one .slim file (weights stored as their codes) or a stock tfjs model.json directory.",
  description:
    "slim: the file the size reports call \"file (.slim)\"; loadSlim reads it (docs/slim-format.md). tfjs: model.json + shards for tf.loadLayersModel; per-tensor 8/16-bit linear and float16 weights as tfjs' uint8/uint16/float16, the rest float32. " +
    "Refuses, writing nothing, an existing file or folder without --force, and with --force anything slimlab did not write; a model whose quantized weights changed since %quantize.",
  positional: [{ name: "model", help: "a tf.LayersModel (e.g. a %quantize or %prune result)" }],
  flags: {
    format: { type: "choice", choices: EXPORT_FORMATS, required: true, help: "slim (one file) or tfjs (model.json directory)" },
    out: { type: "string", required: true, help: "the .slim file (ends in .slim) or the directory to write" },
    force: { type: "boolean", help: "replace an earlier slimlab save at --out (never other files)" },
    huffman: { type: "boolean", help: "slim: Huffman-code the codes (as %quantize --huffman counts them)" },
    sparse: { type: "boolean", help: "slim: kernels with zeros in relative-index CSR when smaller (as %size's sparse column counts them)" },
  },
  examples: [
    "%export q --format slim --out out/lenet.slim --huffman",
    "%export pruned --format slim --out out/pruned.slim --sparse --force",
    "const r = %export q --format tfjs --out out/lenet-tfjs; r.bytes",
  ],
  run: ([model], flags): Promise<ExportResult> => {
    if (model === undefined) throw new SlimlabError("E_MISSING_ARG", "%export: missing <model>; e.g. %export q --format slim --out out/q.slim");
    return exportModel(model as tf.LayersModel, { format: flags.format as (typeof EXPORT_FORMATS)[number], out: flags.out as string, force: flags.force, huffman: flags.huffman, sparse: flags.sparse });
  },
  // On the literal flags before the cell runs, and again when the line runs (exportModel checks the same).
  check(flags) {
    if (flags.format === undefined || flags.out === undefined) return;
    const problem = formatProblem(flags.format, flags.out, flags.huffman === true, flags.sparse === true);
    if (problem !== undefined) throw new SlimlabError("E_ARG", `%export: ${problem}`);
  },
});

/** Every magic of this plugin, for registration. */
export const formatMagics = [exportMagic] as const;
