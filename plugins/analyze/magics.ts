/**
 * `%analyze`: the magic over analyze(). `const a = %analyze m --data val`
 * runs `await analyze(m, {data: val})`; the result shows its table and heat
 * map as the cell's value, and `%quantize m --plan a` / `%prune m --plan a`
 * read the per-layer plan from it.
 */
import * as tf from "@tensorflow/tfjs";
import { defineMagic } from "../core/magic";
import { TrainData } from "../toolkit/train";
import { analyze, ANALYZE_SCHEMES } from "./analyze";
import { AnalyzeResult } from "./result";

export const analyzeMagic = defineMagic({
  name: "analyze",
  summary: "Per-layer sensitivity: accuracy when only one layer is quantized (2–8 bits) or pruned (30–90%), and 8-bit weights vs activations; a table, a heat map and a plan.",
  description:
    "Measure on a validation split (--data), never on the test set: the plan chosen from these numbers would otherwise be judged on the data it was chosen on. " +
    "The model is only read; every changed copy is freed. a.plan({maxDrop}) gives per layer the fewest bits and the highest sparsity whose single-layer drop is at most maxDrop points (default 1); " +
    "`%quantize m --plan a` and `%prune m --plan a` apply it (--max-drop D to choose another bound).",
  positional: [{ name: "model", help: "a tf.LayersModel classifier" }],
  flags: {
    data: { type: "value", required: true, help: "labelled validation data {xs, ys} (not the test set)" },
    bits: { type: "numbers", integer: true, min: 1, max: 16, default: [2, 4, 6, 8], help: "widths to quantize each layer's weights at" },
    sparsities: { type: "numbers", above: 0, below: 1, default: [0.3, 0.5, 0.7, 0.9], help: "fractions of each layer's kernel to prune" },
    layers: { type: "string", help: "comma-separated layer names or globs (default: every layer with a quantizable kernel)" },
    scheme: { type: "choice", choices: ANALYZE_SCHEMES, default: "affine", help: "quantization scheme" },
    perChannel: { type: "boolean", help: "one scale per output channel (affine, symmetric)" },
    batchSize: { type: "number", integer: true, min: 1, default: 256, help: "samples per forward pass when scoring" },
  },
  examples: [
    "const a = %analyze model --data val",
    "const a = %analyze cnn --data val --bits 2,3,4,8 --per-channel",
    "const q = %quantize model --plan a --max-drop 0.5",
    "const p = %prune model --plan a",
  ],
  run: ([model], flags): Promise<AnalyzeResult> =>
    analyze(model as tf.LayersModel, {
      data: flags.data as TrainData,
      bits: flags.bits,
      sparsities: flags.sparsities,
      layers: flags.layers,
      scheme: flags.scheme,
      perChannel: flags.perChannel,
      batchSize: flags.batchSize,
    }),
});
