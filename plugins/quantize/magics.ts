/**
 * `%quantize`: the magic over quantize(). It turns flags into
 * QuantizeOptions, runs the same function a user can import, shows the
 * per-layer table and figures, and returns the new model.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show } from "../core/errors";
import { plotlyBundle } from "../core/figure";
import { host } from "../core/host";
import { defineMagic } from "../core/magic";
import { tableBundle } from "../core/table";
import { asLabeledData, isDataset } from "../data/dataset";
import { readPlan } from "../toolkit/plan";
import { TrainData } from "../toolkit/train";
import { OBSERVERS, PERCENTILE } from "./calibrate";
import { CommonOptions, MIXED_LIMITS, QuantizeOptions, QuantizeResult, quantize } from "./quantize";
import { checkBits, SCHEMES } from "./scheme";

/** The --data value as tensors (training and evaluation need {xs, ys}). */
function tensorData(value: unknown, flag: string): TrainData {
  const d = asLabeledData(value, flag);
  if (isDataset(d)) throw new SlimlabError("E_TYPE", `%quantize: ${flag} got a tf.data.Dataset; QAT and mixed precision need {xs, ys} tensors (collect the dataset with toArray first)`);
  return d;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/**
 * The sizes of a quantization in words: the .slim file's bytes (measured,
 * by the writer), then the counted bits (an estimate), then where it was saved.
 *
 * @param r a quantize() result
 * @returns e.g. "float32 weights 1040.0 KB → file (.slim) 268.9 KB, 3.87× (bytes saveSlim writes); estimate from counted bits: 266.4 KB (3.90×)"
 * @example
 *   sizeText(await quantize(m, { bits: 8 }));
 */
export function sizeText(r: QuantizeResult): string {
  const s = r.sizes;
  const file = s.fileBytes !== null
    ? `file (.slim${s.fileHuffman ? ", Huffman" : ""}) ${kb(s.fileBytes)}, ${(s.fileRatio as number).toFixed(2)}× (${s.fileBytes} bytes saveSlim writes, header included)`
    : `file (.slim) not sized: ${s.fileNote}`;
  const estimate = `estimate from counted bits: ${kb(s.quantizedBytes)} (${s.ratio.toFixed(2)}×)` +
    (s.huffmanBytes !== null ? `, with Huffman ${kb(s.huffmanBytes)} (${(s.huffmanRatio as number).toFixed(2)}×)` : "");
  const saved = r.saved ? `; saved ${r.saved.format} to ${r.saved.path} (${r.saved.bytes} bytes)` : "";
  return `float32 weights ${kb(s.floatBytes)} → ${file}; ${estimate}${saved}`;
}

/**
 * Shows a quantization result: the per-layer table, the size chart, the
 * weight histogram (with levels) of the largest quantized weight, and the
 * sensitivity chart of a mixed-precision run.
 *
 * @param r a quantize() result
 * @example
 *   displayQuantizeResult(await quantize(m, { bits: 4 }));
 */
export function displayQuantizeResult(r: QuantizeResult): void {
  const h = host();
  h.display(tableBundle(r.layers));
  h.display({ "text/plain": sizeText(r) });
  h.display(plotlyBundle(r.figures.sizes));
  const largest = [...r.quantized.entries()].sort((a, b) => b[1].codes.length - a[1].codes.length)[0];
  if (largest) h.display(plotlyBundle(r.figures.histograms.get(largest[0]) as NonNullable<ReturnType<typeof r.figures.histograms.get>>));
  if (r.figures.sensitivity) h.display(plotlyBundle(r.figures.sensitivity));
}

/**
 * Parses --layer-bits: comma-separated `layer=bits` pairs.
 *
 * @param text e.g. "fc1=5,fc2=6"
 * @returns layer name → bits (whether the bits suit the scheme, and whether
 *   the layer exists, quantize() checks)
 * @example
 *   parseLayerBits("fc1=5, fc3=8"); // { fc1: 5, fc3: 8 }
 */
export function parseLayerBits(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(",").map((p) => p.trim()).filter((p) => p !== "")) {
    const m = /^([^=\s]+)\s*=\s*(\d+)$/.exec(part);
    if (!m) throw new SlimlabError("E_ARG", `%quantize: --layer-bits entry ${show(part)} is not layer=bits; expected e.g. fc1=5,fc2=6`);
    if (m[1] in out) throw new SlimlabError("E_ARG", `%quantize: --layer-bits names layer ${show(m[1])} twice`);
    out[m[1]] = Number(m[2]);
  }
  if (Object.keys(out).length === 0) throw new SlimlabError("E_ARG", `%quantize: --layer-bits ${show(text)} names no layer; expected e.g. fc1=5,fc2=6`);
  return out;
}

export const quantizeMagic = defineMagic({
  name: "quantize",
  summary: "Quantize a model's weights (and activations): linear, k-means, power-of-two, binary/ternary, float16; calibration, QAT, mixed precision, tfjs export.",
  description:
    "Returns a new tf.LayersModel whose weights hold the dequantized values (the input is untouched unless --inplace) and shows a per-layer table (MSE, SQNR, sizes) and figures. " +
    "--save PATH.slim writes one .slim file, the codes as they are counted (loadSlim reads it); another --save path gets model.json + shards that stock tfjs loads (uint8/uint16/float16 manifests), or, for schemes tfjs cannot express, quantized.json + codes.bin with a tfjs copy in tfjs/ (loadCompact reads them). " +
    "The report gives the bytes of the .slim file (measured by encoding it) and, as an estimate, the counted bits.",
  positional: [{ name: "model", help: "a tf.LayersModel" }],
  flags: {
    bits: { type: "number", integer: true, min: 1, max: 16, help: "bits per weight (affine/symmetric 2–16, kmeans 1–8, pow2 2–8, binary 1, ternary 2, float16 16)" },
    scheme: { type: "choice", choices: SCHEMES, default: "affine", help: "quantization scheme" },
    perChannel: { type: "boolean", help: "one scale per output channel (affine, symmetric)" },
    init: { type: "choice", choices: ["linear", "optimal"] as const, help: "k-means centroids: linear init + Lloyd (Deep Compression) or the DP optimum (default linear)" },
    layers: { type: "string", help: "comma-separated layer names or globs to quantize (default all)" },
    layerBits: { type: "string", help: "bits of chosen layers, e.g. fc1=5,fc2=6 (the others get --bits)" },
    target: { type: "choice", choices: ["weights", "activations", "both"] as const, default: "weights", help: "what to quantize" },
    calibrate: { type: "value", help: "calibration inputs for activation ranges: a tensor or {xs}" },
    observer: { type: "choice", choices: OBSERVERS, help: "activation range observer (default percentile)" },
    percentile: { type: "number", ...PERCENTILE, help: "percentile of the percentile observer (default 99.99)" },
    activationBits: { type: "number", integer: true, min: 2, max: 16, help: "bits of activations (default 8)" },
    dynamic: { type: "boolean", help: "Dense kernels int8 and Dense inputs quantized per batch at run time" },
    qat: { type: "boolean", help: "quantization-aware training (needs --data and --epochs)" },
    data: { type: "value", help: "labelled data {xs, ys} for --qat and --mixed --max-drop" },
    epochs: { type: "number", integer: true, min: 1, help: "QAT epochs" },
    lr: { type: "number", above: 0, help: "QAT learning rate (adam, default 1e-3)" },
    batchSize: { type: "number", integer: true, min: 1, help: "QAT batch size (default 64)" },
    mixed: { type: "boolean", help: "mixed precision: choose bits per layer (with --budget or --max-drop)" },
    budget: { type: "number", ...MIXED_LIMITS.budgetKB, help: "mixed precision: size budget of quantized weights in KB" },
    maxDrop: { type: "number", ...MIXED_LIMITS.maxDrop, help: "largest accuracy drop in percentage points: of the mixed model (--mixed, needs --data), or of each layer alone (--plan)" },
    plan: { type: "value", help: "bits per layer from %analyze: its result (the plan for --max-drop, default 1 point) or a plan it gave" },
    huffman: { type: "boolean", help: "report Huffman-coded index sizes" },
    save: { type: "string", help: "where to save: PATH.slim writes one .slim file (with --huffman, Huffman-coded); another path a directory (tfjs, or compact + tfjs copy)" },
    force: { type: "boolean", help: "replace an earlier slimlab save at --save (never other files)" },
    inplace: { type: "boolean", help: "write the quantized weights into the given model" },
    quiet: { type: "boolean", help: "do not display the table and figures" },
  },
  examples: [
    "const q8 = %quantize model --bits 8 --per-channel",
    "const k6 = %quantize model --scheme kmeans --bits 6 --huffman --save out/k6.slim",
    "const a8 = %quantize model --target both --calibrate calib --observer percentile",
    "const q4 = %quantize model --bits 4 --qat --data train --epochs 2",
    "const mp = %quantize model --mixed --max-drop 0.5 --data test",
    "const lb = %quantize model --scheme kmeans --bits 5 --layer-bits fc1=4,fc3=6",
    "const r = %quantize model --bits 4 -o; r.sizes.ratio",
    "const a = %analyze model --data val; const planned = %quantize model --plan a --max-drop 0.5",
  ],
  async run([model], flags): Promise<QuantizeResult> {
    const common: CommonOptions = {
      layers: flags.layers,
      target: flags.target,
      observer: flags.observer,
      percentile: flags.percentile,
      activationBits: flags.activationBits,
      dynamic: flags.dynamic,
      huffman: flags.huffman,
      save: flags.save,
      force: flags.force,
      inplace: flags.inplace,
    };
    if (flags.calibrate !== undefined) common.calibrate = flags.calibrate as tf.Tensor;
    // check() below has made sure the flags fit together.
    if (flags.qat) common.qat = { data: tensorData(flags.data, "--data"), epochs: flags.epochs as number, lr: flags.lr, batchSize: flags.batchSize };
    if (flags.mixed) {
      const data = flags.data === undefined ? undefined : tensorData(flags.data, "--data");
      common.mixed = flags.budget !== undefined ? { budgetKB: flags.budget, data } : { maxDrop: flags.maxDrop as number, data: data as TrainData };
    }
    if (flags.layerBits !== undefined) common.layerBits = parseLayerBits(flags.layerBits);
    const scheme = flags.scheme ?? "affine";
    if (flags.plan !== undefined) {
      const plan = readPlan(flags.plan, flags.maxDrop, "%quantize");
      if (plan.scheme !== undefined && plan.scheme !== scheme) throw new SlimlabError("E_ARG", `%quantize: the plan's bits were measured with scheme ${plan.scheme}, not ${scheme}; add --scheme ${plan.scheme}`);
      if (plan.perChannel !== undefined && plan.perChannel !== (flags.perChannel === true)) {
        throw new SlimlabError("E_ARG", `%quantize: the plan's bits were measured ${plan.perChannel ? "with" : "without"} --per-channel; ${plan.perChannel ? "add" : "drop"} --per-channel`);
      }
      if (Object.keys(plan.layerBits).length === 0) throw new SlimlabError("E_ARG", "%quantize: --plan gives no bits for any layer; analyze the model with %analyze first");
      common.layerBits = plan.layerBits;
    }
    const options = { ...common, scheme, bits: flags.bits, ...(flags.perChannel ? { perChannel: true } : {}), ...(flags.init ? { init: flags.init } : {}) } as QuantizeOptions;
    if (model === undefined) throw new SlimlabError("E_MISSING_ARG", `%quantize: missing <model>; received ${show(model)}`);
    const result = await quantize(model as tf.LayersModel, options);
    if (!flags.quiet) displayQuantizeResult(result);
    return result;
  },
  output: { help: "return the whole QuantizeResult (model, per-layer rows, sizes, codes, figures) instead of the model", value: (r: QuantizeResult): tf.LayersModel => r.model },
  // Run on the literal flags before the cell runs, and again on all flags when the line runs.
  check(flags, given) {
    const bad = (message: string) => new SlimlabError("E_ARG", `%quantize: ${message}`);
    if (flags.qat) {
      if (!given.has("data")) throw bad("--qat needs --data <var> with {xs, ys} training tensors; received no --data");
      if (!given.has("epochs")) throw bad("--qat needs --epochs E (a positive integer)");
    }
    if (flags.mixed) {
      if (!given.has("budget") && !given.has("maxDrop")) throw bad("--mixed needs --budget KB or --max-drop PP --data <var>");
      if (!given.has("budget") && !given.has("data")) throw bad(`--mixed --max-drop ${flags.maxDrop ?? "PP"} needs --data <var> to measure accuracy`);
    } else if (given.has("budget") || (given.has("maxDrop") && !given.has("plan"))) {
      if (given.has("budget")) throw bad(`--budget ${flags.budget ?? "KB"} only applies with --mixed; add --mixed`);
      throw bad(`--max-drop ${flags.maxDrop ?? "PP"} only applies with --mixed or --plan; add one of them`);
    }
    if (given.has("plan") && (flags.mixed || given.has("layerBits"))) throw bad(`--plan sets the bits of each layer; drop ${flags.mixed ? "--mixed" : "--layer-bits"}`);
    // The bits a scheme allows (BITS in scheme.ts); a scheme given as {expr} is checked when the line runs.
    if (flags.scheme === undefined) return;
    if (flags.bits !== undefined) checkBits(flags.scheme, flags.bits, "%quantize");
    if (flags.layerBits !== undefined) for (const b of Object.values(parseLayerBits(flags.layerBits))) checkBits(flags.scheme, b, "%quantize");
  },
});
