/**
 * The measure plugin's magics. Each one parses its line and calls the
 * exported function of the same name, so `%bench m --batch 1,32` and
 * `await bench(m, {batch: [1, 32]})` run the same code and return the same
 * typed result.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { host } from "../core/host";
import { defineMagic } from "../core/magic";
import { DataSource } from "../data/dataset";
import { backendsBench, BackendsResult } from "./backends";
import { bench, BenchResult } from "./bench";
import { compare, CompareResult } from "./compare";
import { evaluateModel, EvaluationResult } from "./evaluate";
import { optimize, OptimizeResult } from "./optimize";
import { kernelTimes, KernelTimes } from "./profile";
import { Measurable } from "./predictor";
import { size, SizeResult } from "./size";
import { summary, SummaryResult } from "./summary";

const MODEL = { name: "model", help: "a tf.LayersModel variable" } as const;

export const summaryMagic = defineMagic({
  name: "summary",
  summary: "Per-layer output shape, parameters, non-zeros, MACs, FLOPs and activation memory, with totals.",
  description: "Costs are per example. FLOPs = 2 × MACs for Dense/Conv layers (bias and fused activations not counted); pooling, BatchNormalization and activation layers count element operations; Flatten and Dropout cost 0.",
  positional: [MODEL],
  flags: {},
  examples: ["%summary model", "const s = %summary model; s.totals.flops"],
  run: ([model]): SummaryResult => summary(model as tf.LayersModel),
});

export const sizeMagic = defineMagic({
  name: "size",
  summary: "Bytes of the model's .slim file (measured), and its weights counted as float32, saved, gzipped and in sparse CSR (estimates), with ratios.",
  description:
    "file (.slim): the bytes saveSlim writes for the model, header included, encoded in memory (--huffman, --sparse are saveSlim's options); quantized weights changed since %quantize are reported instead. " +
    "Estimates: sparse counts kernels in CSR with index gaps of 5 bits (Dense) or 8 bits (Conv), a filler zero when a gap overflows, row pointers of ceil(log2(entries + 1)) bits; other weights as saved.",
  positional: [{ name: "model", help: "a tf.LayersModel, or tfjs ModelArtifacts (quantized manifests count their dtype)" }],
  flags: {
    valueBits: { type: "number", help: "bits per non-zero value in the sparse count (default: the stored width)", integer: true, min: 1, max: 32 },
    huffman: { type: "boolean", help: "size the .slim file with Huffman-coded codes" },
    sparse: { type: "boolean", help: "size the .slim file with kernels that have zeros in CSR" },
  },
  examples: ["%size model", "%size pruned --value-bits 5", "%size q --huffman --sparse"],
  run: ([model], flags): Promise<SizeResult> => size(model as tf.LayersModel, { valueBits: flags.valueBits, huffman: flags.huffman, sparse: flags.sparse }),
});

export const benchMagic = defineMagic({
  name: "bench",
  summary: "Inference latency (p50/p90/p99, mean, spread) and throughput per batch size on the active backend.",
  description: "Each call is predict + await data() on the outputs, so asynchronous backends are timed until the numbers exist. The harness overhead (the same loop around a no-op) is measured and kept under 5%. An ONNX model from loadOnnx is timed on ONNX Runtime (%evaluate and %compare take one too).",
  positional: [MODEL],
  flags: {
    batch: { type: "numbers", help: "batch sizes", default: [1, 8, 32], integer: true, min: 1 },
    runs: { type: "number", help: "timed samples per batch size", default: 20, integer: true, min: 1 },
    warmup: { type: "number", help: "untimed calls first", default: 3, integer: true, min: 0 },
  },
  examples: ["%bench model", "%bench model --batch 1,32 --runs 50", "const r = %bench model; r.at(32)?.ms.p50"],
  run: ([model], flags): Promise<BenchResult> => bench(model as Measurable, flags),
});

export const kernelsMagic = defineMagic({
  name: "kernels",
  summary: "Where one predict's time goes: calls and median ms per tfjs kernel, and the time outside kernels.",
  description:
    "Each kernel is timed by the backend under tf.profile (wasm, cpu: wall time of the call; WebGL: GPU time); whole predicts (predict + await data()) are timed apart, " +
    "and their median minus the kernels' is the time outside kernels: tfjs-layers walking the graph and the engine's bookkeeping. Random inputs; 3 untimed predicts first.",
  positional: [MODEL],
  flags: {
    batch: { type: "number", help: "batch size", default: 1, integer: true, min: 1 },
    runs: { type: "number", help: "predicts timed whole, and as many profiled", default: 10, integer: true, min: 1 },
  },
  examples: ["%kernels model --batch 32", "const k = %kernels model; k.byName.FusedConv2D"],
  run: ([model], flags): Promise<KernelTimes> => kernelTimes(model as tf.LayersModel, flags),
});

export const evaluateMagic = defineMagic({
  name: "evaluate",
  summary: "Loss, accuracy and confusion matrix (Plotly heat map) of a classifier on labelled data.",
  positional: [MODEL],
  flags: {
    data: { type: "value", required: true, help: "{xs, ys} (ys int [N] or one-hot [N, C]) or a tf.data.Dataset of such batches" },
    batchSize: { type: "number", help: "examples per forward pass", default: 256, integer: true, min: 1 },
  },
  examples: ["%evaluate model --data test"],
  run: ([model], flags): Promise<EvaluationResult> => {
    return evaluateModel(model as Measurable, flags.data as DataSource, { batchSize: flags.batchSize, argName: "--data" });
  },
});

export const compareMagic = defineMagic({
  name: "compare",
  summary: "Models side by side: .slim file size, counted sizes, FLOPs, latency at batch 1 and 32, accuracy, ratios to the first, and a Pareto scatter.",
  description:
    "file (.slim) is measured (the bytes saveSlim writes; --huffman, --sparse are its options; for a loadOnnx model, its .onnx file); gzip and sparse are estimates counted from the weights' bits. " +
    "Rows are named after the models as written on the line (`%compare m $p {zoo[0]}` gives m, p, zoo[0]) unless --names says otherwise.",
  positional: [{ name: "models", help: "two or more tf.LayersModel (or loadOnnx model) variables", variadic: true }],
  argNames: true,
  flags: {
    data: { type: "value", help: "labelled data for accuracy ({xs, ys} or a Dataset)" },
    names: { type: "string", help: "comma-separated display names, one per model (default: the variables as written)" },
    runs: { type: "number", help: "timed samples per model and batch size", default: 10, integer: true, min: 1 },
    warmup: { type: "number", help: "untimed calls first", default: 2, integer: true, min: 0 },
    huffman: { type: "boolean", help: "size the .slim files with Huffman-coded codes" },
    sparse: { type: "boolean", help: "size the .slim files with kernels that have zeros in CSR" },
  },
  examples: ["%compare model pruned quantized --data test", "%compare a b --names base,small", "%compare model dc --data test --huffman --sparse"],
  run: (models, flags, ctx): Promise<CompareResult> => {
    if (models.length === 0) throw new SlimlabError("E_MISSING_ARG", "%compare: missing <models>; give one or more models, e.g. %compare model pruned");
    // Without --names, the variables as the user wrote them; a call without them (invokeMagic) keeps compare's default, the models' names.
    const written = ctx.argNames?.every((n): n is string => typeof n === "string" && n !== "") ? [...ctx.argNames] as string[] : undefined;
    return compare(models as Measurable[], {
      data: flags.data as DataSource | undefined,
      names: flags.names?.split(",").map((n) => n.trim()) ?? written,
      runs: flags.runs,
      warmup: flags.warmup,
      argName: "--data",
      huffman: flags.huffman,
      sparse: flags.sparse,
    });
  },
});

export const backendsMagic = defineMagic({
  name: "backends",
  summary: "The same model benchmarked on every registered backend (tensorflow, wasm, cpu), side by side; the active backend is restored.",
  positional: [MODEL],
  flags: {
    batch: { type: "numbers", help: "batch sizes", default: [1, 32], integer: true, min: 1 },
    runs: { type: "number", help: "timed samples per backend and batch size", default: 10, integer: true, min: 1 },
    warmup: { type: "number", help: "untimed calls first (they also move the weights)", default: 3, integer: true, min: 0 },
  },
  examples: ["%backends model", "%backends model --batch 1"],
  run: ([model], flags): Promise<BackendsResult> => backendsBench(model as tf.LayersModel, flags),
});

export const optimizeMagic = defineMagic({
  name: "optimize",
  summary: "Folds BatchNormalization into the layer before, fuses activations, drops Dropout; shows what changed and returns the new model.",
  description:
    "The new model's outputs equal the original's in inference mode (checked on random inputs and reported). Kernels per predict and p50 latency are measured before and after. " +
    "With -o the line gives the whole OptimizeResult (whose text is the report) instead of showing it.",
  positional: [MODEL],
  flags: {
    batch: { type: "number", help: "batch size of the latency measurement", default: 1, integer: true, min: 1 },
    runs: { type: "number", help: "timed samples per model", default: 20, integer: true, min: 1 },
    warmup: { type: "number", help: "untimed calls first", default: 3, integer: true, min: 0 },
    noBench: { type: "boolean", help: "skip the latency measurement" },
  },
  examples: ["const fast = %optimize model", "const r = %optimize model --batch 32 -o; r.folded"],
  run: async ([model], flags): Promise<OptimizeResult> => {
    const r = await optimize(model as tf.LayersModel, { batch: flags.batch, runs: flags.runs, warmup: flags.warmup, measure: flags.noBench !== true });
    if (flags.output !== true) host().display({ "text/plain": r.toString() });
    return r;
  },
  output: {
    help: "return the whole OptimizeResult (model, folded, fused and removed layers, output difference, kernels, latency) instead of the model",
    value: (r: OptimizeResult): tf.LayersModel => r.model,
  },
});

/** Every magic of this plugin, for registration. */
export const measureMagics = [summaryMagic, sizeMagic, benchMagic, kernelsMagic, evaluateMagic, compareMagic, backendsMagic, optimizeMagic] as const;
