/**
 * `%load_model`: the magic over loadAnyModel(). `const m = %load_model out/lenet`
 * gives a tf.LayersModel or, for a converted graph, a tf.GraphModel, and
 * says in one line which it is and what can be done with it.
 */
import * as tf from "@tensorflow/tfjs";
import { host } from "../core/host";
import { defineMagic } from "../core/magic";
import { SCHEMES } from "../quantize/scheme";
import { compressGraph, GraphCompressResult } from "./graph";
import { loadAnyModel, LoadedModel } from "./load";

/** One line about a loaded model: its kind, size and what takes it. */
export function describeLoaded(m: LoadedModel, source: string): string {
  if (m instanceof tf.GraphModel) {
    const weights = Object.values(m.weights).flat();
    const params = weights.reduce((n, t) => n + t.size, 0);
    return `Loaded a tf.GraphModel from ${source}: ${weights.length} weight tensors, ${params} values, inputs ${m.inputs.map((i) => i.name).join(", ")}. ` +
      "It has no layers: %compress_graph (or compressGraph) quantizes or prunes its weight tensors; magics that need layers refuse it.";
  }
  return `Loaded a tf.LayersModel "${m.name}" from ${source}: ${m.layers.length} layers, ${m.countParams()} parameters.`;
}

export const loadModelMagic = defineMagic({
  name: "load_model",
  summary: "Load a tfjs model (model.json + shards) or a Keras .h5 model from a path, file:// or http(s):// URL: a LayersModel, or a GraphModel for converted graphs.",
  description:
    "model.json's format decides: \"layers-model\" gives a tf.LayersModel (every magic takes it), \"graph-model\" a tf.GraphModel, whose weights %compress_graph can quantize or prune. " +
    "A .h5/.hdf5 file saved by Keras 2.x (tf.keras) model.save() gives a tf.LayersModel with its weights, when tfjs-layers has all its layer classes (no custom layers or Lambda); " +
    "weights-only files (save_weights), Keras 3 .keras zips and Keras 3 .h5 files are refused.",
  positional: [{ name: "source", help: "a directory holding model.json, a model.json path, a Keras .h5 file, a file:// or http(s):// URL", text: true }],
  flags: {
    quiet: { type: "boolean", help: "do not print what was loaded" },
  },
  examples: ["const m = %load_model out/lenet", "const k = %load_model models/mnist.h5", "const g = %load_model file:///models/mnet/model.json", "const g = %load_model https://example.com/model/model.json"],
  run: async ([source], flags): Promise<LoadedModel> => {
    const m = await loadAnyModel(source as string);
    if (!flags.quiet) host().display({ "text/plain": describeLoaded(m, String(source)) });
    return m;
  },
});

export const compressGraphMagic = defineMagic({
  name: "compress_graph",
  summary: "Quantize and/or prune the weight tensors of a tf.GraphModel and save it in the tfjs format stock tf.loadGraphModel reads.",
  description:
    "Float32 weights of rank ≥ 2 (MatMul and convolution kernels) are pruned by |w| (--sparsity) and/or quantized (--bits, --scheme); biases and other constants stay. " +
    "Per-tensor affine codes are stored as uint8/uint16 and float16 as float16 (tfjs decodes them on load); other schemes are stored dequantized as float32, and the table counts the bytes their codes take. " +
    "Returns the new tf.GraphModel (the given one is untouched); -o gives the whole result.",
  positional: [{ name: "model", help: "a tf.GraphModel (from %load_model)" }],
  flags: {
    bits: { type: "number", integer: true, min: 1, max: 16, help: "bits per weight (omit to prune only)" },
    scheme: { type: "choice", choices: SCHEMES, help: "quantization scheme (default affine)" },
    perChannel: { type: "boolean", help: "one scale per output channel (affine, symmetric; saved as float32)" },
    sparsity: { type: "number", min: 0, below: 1, help: "fraction of each kernel to set to zero, smallest |w| first" },
    save: { type: "string", help: "directory to save model.json + shards to" },
    force: { type: "boolean", help: "replace an earlier slimlab save at --save" },
    quiet: { type: "boolean", help: "do not show the table" },
  },
  examples: ["const g = %load_model models/mnet", "const g8 = %compress_graph g --bits 8 --sparsity 0.5 --save out/mnet-q8"],
  run: async ([model], flags): Promise<GraphCompressResult> => {
    const r = await compressGraph(model as tf.GraphModel, { bits: flags.bits, scheme: flags.scheme, perChannel: flags.perChannel, sparsity: flags.sparsity, save: flags.save, force: flags.force });
    if (!flags.quiet) host().display(r.toMimeBundle());
    return r;
  },
  output: { help: "return the whole result (model, artifacts, rows, sizes) instead of the model", value: (r: GraphCompressResult): tf.GraphModel => r.model },
});
