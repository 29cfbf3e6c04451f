/**
 * quantize(): the one entry point behind `%quantize`. It checks every
 * option first (nothing is computed, written or changed on bad input),
 * quantizes the chosen weights with the pure quantizers, writes them into a
 * clone (apply.ts), then optionally inserts activation fake-quant, runs
 * QAT, and saves.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, isSlimlabError, show, suggestion } from "../core/errors";
import { fitsNumberRule, NumberRule } from "../core/magic";
import { PlotlyFigure } from "../core/figure";
import { host } from "../core/host";
import { cloneModel } from "../toolkit/clone";
import { assertFinite } from "../toolkit/finite";
import { requireModel, selectLayers } from "../toolkit/layers";
import { Caller, checkpoint } from "../toolkit/pace";
import { weightSnapshot } from "../toolkit/snapshot";
import { checkSamples, TrainData, TrainHistory } from "../toolkit/train";
import { applyQuantized, quantizedWeights, setQuantizedWeights, staleMessage, staleQuantized } from "./apply";
import { OBSERVERS, Observer, calibrate, calibrationInputs } from "./calibrate";
import { assertSaveTarget } from "../format/export";
import { SlimEncoding, encodeSlim, isSlimPath, writeSlim } from "../format/slim";
import { SaveResult, saveQuantized, slimSaved } from "./export";
import { Insertion, insertFakeQuant } from "./insert";
import { KmeansInit, clusteredValues, codebookMse, kmeansCodebook } from "./kmeans";
import { MixedChoice, chooseBits } from "./mixed";
import { QatOptions, checkQat, quantizationAwareTrain } from "./qat";
import { QuantizedTensor } from "./quantized";
import { LayerConfig, checkFinite, quantizeTensor } from "./quantizer";
import { QuantizeRegistry, WeightTarget, builtinQuantizables, quantizableWeights } from "./registry";
import { LayerRow, Sizes, histogramFigure, layerRows, sizeFigure, sizes } from "./report";
import { Scheme, checkBits } from "./scheme";

export type Target = "weights" | "activations" | "both";
const TARGETS: readonly Target[] = ["weights", "activations", "both"];

/** Options every scheme shares. */
export interface CommonOptions {
  /** Comma-separated layer names/globs to quantize (default: every quantizable layer). */
  layers?: string;
  /** What to quantize; default "weights". */
  target?: Target;
  /** Calibration inputs for activation ranges: a tensor or {xs}. Required when target includes activations (static). */
  calibrate?: tf.Tensor | { xs: tf.Tensor };
  /** Range observer; default "percentile" (99.99). */
  observer?: Observer;
  percentile?: number;
  /** Bits of activations; default 8. */
  activationBits?: number;
  /**
   * Dynamic quantization (PyTorch quantize_dynamic): Dense kernels int8
   * (affine, per tensor) and each Dense input quantized per batch at run time.
   */
  dynamic?: boolean;
  /**
   * Bits per layer name, overriding `bits` for those layers (e.g. Deep
   * Compression's 8-bit conv and 5-bit fc layers in one run, so that the
   * centroids of all of them are fine-tuned together by `qat`).
   */
  layerBits?: Record<string, number>;
  /** Quantization-aware training after quantizing (scheme kmeans: centroid fine-tuning, centroids.ts). */
  qat?: QatOptions;
  /** Mixed precision: bits per layer under a size budget or an accuracy floor. */
  mixed?: { budgetKB: number; data?: TrainData; candidates?: number[] } | { maxDrop: number; data: TrainData; candidates?: number[] };
  /** Report Huffman-coded sizes of the indices. */
  huffman?: boolean;
  /** Save to this directory (tfjs format, or compact + tfjs copy), or, for a path ending in .slim, as one .slim file (saveSlim, with `huffman`). */
  save?: string;
  /** Replace an earlier slimlab save at `save` (never other files, the working or home directory). */
  force?: boolean;
  /** Write the quantized weights into `model` itself (not with activations/dynamic). */
  inplace?: boolean;
  /** Which layer classes are quantizable; default builtinQuantizables(). */
  registry?: QuantizeRegistry;
}

/** Scheme-specific options (discriminated by `scheme`). */
export type SchemeOptions =
  | { scheme?: "affine" | "symmetric"; bits?: number; perChannel?: boolean }
  | { scheme: "kmeans"; bits?: number; init?: KmeansInit }
  | { scheme: "pow2"; bits?: number }
  | { scheme: "binary" | "ternary"; bits?: number }
  | { scheme: "float16"; bits?: number };

export type QuantizeOptions = CommonOptions & SchemeOptions;

/** What quantize returns. */
export interface QuantizeResult {
  /** A new model holding the dequantized weights (the input model if inplace). */
  model: tf.LayersModel;
  layers: LayerRow[];
  sizes: Sizes;
  /** Weight name → codes, scales/codebook and decoded values. */
  quantized: Map<string, QuantizedTensor>;
  /** Calibrated activation ranges, layer name → [lo, hi]. */
  activationRanges?: Map<string, [number, number]>;
  qat?: TrainHistory;
  mixed?: MixedChoice;
  saved?: SaveResult;
  figures: { sizes: PlotlyFigure; histograms: Map<string, PlotlyFigure>; sensitivity?: PlotlyFigure };
}

/** Limits of the mixed-precision targets, shared with %quantize's --budget and --max-drop. */
export const MIXED_LIMITS = { budgetKB: { above: 0 }, maxDrop: { min: 0 } } as const satisfies Record<string, NumberRule>;

const KNOWN_KEYS = ["scheme", "bits", "perChannel", "init", "layers", "target", "calibrate", "observer", "percentile", "activationBits", "dynamic", "layerBits", "qat", "mixed", "huffman", "save", "force", "inplace", "registry"];

interface Resolved {
  config: LayerConfig;
  target: Target;
  weights: boolean;
  activations: boolean;
}

function resolve(options: QuantizeOptions, fn: string): Resolved {
  if (typeof options !== "object" || options === null) throw new SlimlabError("E_ARG", `${fn}: options must be an object, received ${show(options)}`);
  const unknown = Object.keys(options).find((k) => !KNOWN_KEYS.includes(k));
  if (unknown !== undefined) throw new SlimlabError("E_ARG", `${fn}: unknown option ${show(unknown)}${suggestion(unknown, KNOWN_KEYS)}; allowed: ${KNOWN_KEYS.join(", ")}`);
  const o = options as CommonOptions & { scheme?: Scheme; bits?: number; perChannel?: boolean; init?: KmeansInit };
  const dynamic = o.dynamic === true;
  const { scheme, bits } = checkBits(o.scheme ?? "affine", dynamic && o.bits === undefined ? 8 : o.bits, fn);
  if (o.perChannel === true && scheme !== "affine" && scheme !== "symmetric") {
    throw new SlimlabError("E_ARG", `${fn}: --per-channel applies to schemes affine and symmetric, not ${scheme} (binary and ternary are always per channel; kmeans, pow2, float16 use one codebook per tensor)`);
  }
  if (o.init !== undefined && !["linear", "optimal"].includes(o.init)) throw new SlimlabError("E_ARG", `${fn}: init ${show(o.init)} is not allowed; allowed: linear, optimal`);
  const target = o.target ?? "weights";
  if (!TARGETS.includes(target)) throw new SlimlabError("E_ARG", `${fn}: target ${show(target)} is not allowed${suggestion(String(target), TARGETS)}; allowed: ${TARGETS.join(", ")}`);
  if (dynamic && (scheme !== "affine" && scheme !== "symmetric")) throw new SlimlabError("E_ARG", `${fn}: --dynamic quantizes Dense kernels linearly; scheme ${scheme} is not allowed with it (use affine or symmetric)`);
  const activations = target !== "weights" || dynamic;
  if (o.observer !== undefined && !OBSERVERS.includes(o.observer)) throw new SlimlabError("E_ARG", `${fn}: observer ${show(o.observer)} is not allowed${suggestion(String(o.observer), OBSERVERS)}; allowed: ${OBSERVERS.join(", ")}`);
  if (o.activationBits !== undefined) checkBits("affine", o.activationBits, fn);
  if (target !== "weights" && !dynamic) {
    if (o.calibrate === undefined) throw new SlimlabError("E_ARG", `${fn}: target ${target} needs calibration inputs for the activation ranges; pass --calibrate <var> (a tensor or {xs}), or --dynamic`);
    calibrationInputs(o.calibrate, fn);
  }
  if (o.inplace === true && activations) throw new SlimlabError("E_ARG", `${fn}: --inplace cannot be combined with activation quantization (target ${target}${dynamic ? ", --dynamic" : ""}): the topology changes, so a new model is returned; drop --inplace`);
  if (o.qat !== undefined) checkQat(o.qat, fn);
  if (o.mixed !== undefined) {
    const m = o.mixed as { budgetKB?: unknown; maxDrop?: unknown; data?: unknown };
    if ("budgetKB" in m && !fitsNumberRule(m.budgetKB, MIXED_LIMITS.budgetKB)) throw new SlimlabError("E_ARG", `${fn}: --budget ${show(m.budgetKB)} is not allowed; pass a positive size in KB`);
    if ("maxDrop" in m && !fitsNumberRule(m.maxDrop, MIXED_LIMITS.maxDrop)) throw new SlimlabError("E_ARG", `${fn}: --max-drop ${show(m.maxDrop)} is not allowed; pass percentage points >= 0, e.g. 0.5`);
    if (!("budgetKB" in m) && !("maxDrop" in m)) throw new SlimlabError("E_ARG", `${fn}: --mixed needs --budget KB or --max-drop PP with --data <var>`);
    if (scheme === "binary" || scheme === "ternary" || scheme === "float16") throw new SlimlabError("E_ARG", `${fn}: --mixed chooses bits per layer; scheme ${scheme} has a fixed width (use affine, symmetric, kmeans or pow2)`);
  }
  if (o.layerBits !== undefined) {
    if (typeof o.layerBits !== "object" || o.layerBits === null) throw new SlimlabError("E_ARG", `${fn}: layerBits must map layer names to bits, received ${show(o.layerBits)}; e.g. {fc1: 5}`);
    if (o.mixed !== undefined) throw new SlimlabError("E_ARG", `${fn}: layerBits and --mixed both choose bits per layer; pass one of them`);
    for (const b of Object.values(o.layerBits)) checkBits(scheme, b, fn);
  }
  if (o.save !== undefined && (typeof o.save !== "string" || o.save === "")) throw new SlimlabError("E_ARG", `${fn}: --save ${show(o.save)} is not allowed; pass a directory path, or a file path ending in .slim`);
  const weights = target !== "activations" || dynamic;
  return { config: { scheme, bits, perChannel: o.perChannel === true, init: o.init ?? "linear" }, target, weights, activations };
}

/**
 * Quantizes a model's weights (and optionally activations), returning a new
 * model whose weights hold the dequantized values, a per-layer report, the
 * sizes and figures; optionally runs QAT, picks mixed precision and saves.
 *
 * @param model a built tf.LayersModel (not changed unless `inplace`)
 * @param options scheme and bits (discriminated by `scheme`, default affine
 *   8-bit) plus the common options; see {@link QuantizeOptions}
 * @returns the new model, layer rows, sizes, quantized tensors, figures
 * @throws SlimlabError E_ARG for bits outside the scheme's range, --qat
 *   without data, conflicting options; E_DATA for an empty calibration set;
 *   E_FILE when --save names an earlier save without force, a directory
 *   slimlab did not write, or the working or home directory or an ancestor,
 *   or the save fails; E_TYPE/E_MODEL for a bad model or NaN/Inf weights
 *   (naming the layer); E_INTERRUPTED when the user interrupts (checked
 *   before each weight is quantized and each batch of calibration, mixed
 *   precision and QAT). On any error nothing is kept: a new model is freed,
 *   and with `inplace` the model gets its weights (bit for bit) and
 *   quantization record back.
 * @example
 *   const r = await quantize(model, { scheme: "affine", bits: 8, perChannel: true });
 *   r.sizes.ratio; // ≈ 4
 *   const k = await quantize(model, { scheme: "kmeans", bits: 6, huffman: true, save: "out/k6" });
 */
export async function quantize(model: tf.LayersModel, options: QuantizeOptions = {}): Promise<QuantizeResult> {
  const fn = "quantize";
  const m = requireModel(model, fn);
  const r = resolve(options, fn);
  const o = options as CommonOptions;
  assertFinite(m, fn, "quantizing");
  const signal = host().signal();
  const caller: Caller = {
    fn,
    leaves: o.inplace ? "the model got its weights back; run the cell again to quantize" : "no quantized model was kept and the given one is unchanged; run the cell again to quantize",
  };
  if (o.save !== undefined) await assertSaveTarget(o.save, { fn, force: o.force === true });
  const registry = o.registry ?? builtinQuantizables();
  const layers = o.layers !== undefined ? selectLayers(m, o.layers).map((l) => l.layer) : m.layers;
  let targets: WeightTarget[] = r.weights ? quantizableWeights(layers, registry) : [];
  if (o.dynamic) targets = targets.filter((t) => t.layer.getClassName() === "Dense");
  if (r.weights && targets.length === 0) {
    throw new SlimlabError("E_MODEL", `${fn}: model "${m.name}" has no quantizable weights${o.layers ? ` in layers ${show(o.layers)}` : ""}; quantizable classes: ${registry.classes().join(", ")}`);
  }
  const originals = new Map<string, Float32Array>();
  for (const t of targets) {
    const values = Float32Array.from(t.variable.read().dataSync() as Float32Array);
    checkFinite(values, t.name, fn, r.config.scheme);
    originals.set(t.name, values);
  }
  const xs = r.activations && !o.dynamic ? calibrationInputs(o.calibrate, fn) : undefined;
  // Before anything is quantized: samples that cannot go through the model.
  if (xs !== undefined) checkSamples(m, { xs }, fn, "--calibrate");
  if (o.qat !== undefined) checkSamples(m, o.qat.data, fn, "--data");
  if (o.mixed?.data !== undefined) checkSamples(m, o.mixed.data, fn, "--data");

  let mixed: MixedChoice | undefined;
  if (o.mixed !== undefined) {
    const ws = targets.map((t) => ({ name: t.name, shape: t.variable.shape as number[], channelAxis: t.channelAxis, float: originals.get(t.name) as Float32Array }));
    mixed = await chooseBits(m, ws, r.config, o.mixed, fn, caller.leaves);
  }
  if (o.layerBits !== undefined) {
    const names = targets.map((t) => t.layer.name);
    const unknownLayer = Object.keys(o.layerBits).find((n) => !names.includes(n));
    if (unknownLayer !== undefined) throw new SlimlabError("E_ARG", `${fn}: layerBits names layer ${show(unknownLayer)}, which is not quantized here${suggestion(unknownLayer, names)}; quantized layers: ${[...new Set(names)].join(", ")}`);
  }
  const layerOf = (name: string) => name.slice(0, name.lastIndexOf("/"));
  const configOf = (name: string): LayerConfig => ({ ...r.config, bits: mixed?.bits.get(name) ?? o.layerBits?.[layerOf(name)] ?? r.config.bits });
  let quantized = new Map<string, QuantizedTensor>();
  for (const t of targets) {
    await checkpoint(signal, () => `${fn}: interrupted by the user before quantizing ${t.name} (${quantized.size} of ${targets.length} weights done); ${caller.leaves}`);
    quantized.set(t.name, quantizeTensor(originals.get(t.name) as Float32Array, t.variable.shape as number[], configOf(t.name), t.channelAxis));
  }

  // From the first write on, any failure frees the new model or puts the given one back exactly.
  const saved = o.inplace ? { weights: weightSnapshot(m), table: new Map(quantizedWeights(m)) } : undefined;
  let out = o.inplace ? m : cloneModel(m);
  let activationRanges: Map<string, [number, number]> | undefined;
  let qat: TrainHistory | undefined;
  try {
    applyQuantized(out, quantized, fn);
    const actBits = o.activationBits ?? 8;
    if (r.activations) {
      const insertions: Insertion[] = [];
      if (o.dynamic) {
        for (const t of targets) insertions.push({ layer: t.layer.name, where: "before", config: { bits: actBits, mode: "dynamic" } });
      } else {
        // Quantize the outputs of weight layers; the model's outputs stay float so the loss sees exact probabilities.
        const outputs = new Set(m.outputs.map((t) => t.sourceLayer.name));
        const names = quantizableWeights(layers, registry).map((t) => t.layer.name).filter((n, i, a) => a.indexOf(n) === i && !outputs.has(n));
        activationRanges = await calibrate(out, names, xs as tf.Tensor, { observer: o.observer ?? "percentile", percentile: o.percentile, bits: actBits, signal, caller });
        for (const [layer, [min, max]] of activationRanges) insertions.push({ layer, where: "after", config: { bits: actBits, mode: "static", min, max } });
      }
      const withFq = insertFakeQuant(out, insertions, fn);
      if (out !== m) out.dispose();
      out = withFq;
      applyQuantized(out, quantized, fn);
    }
    if (o.qat !== undefined) {
      const ws = targets.map((t) => ({ name: t.name, shape: t.variable.shape as number[], channelAxis: t.channelAxis, config: configOf(t.name), float: originals.get(t.name) as Float32Array }));
      const res = await quantizationAwareTrain(out, ws, { ...o.qat, caller });
      quantized = res.quantized;
      qat = res.history;
      applyQuantized(out, quantized, fn);
    }
    const result = await report(out, m, r, o, quantized, originals, configOf, signal, caller);
    result.activationRanges = activationRanges;
    result.qat = qat;
    result.mixed = mixed;
    result.figures.sensitivity = mixed?.figure;
    await fileSizeAndSave(result, quantized, o, fn);
    saved?.weights.discard();
    return result;
  } catch (e) {
    if (out !== m) out.dispose();
    if (saved !== undefined) {
      saved.weights.restore();
      setQuantizedWeights(m, saved.table);
    }
    throw e;
  }
}

/**
 * Adds the size of the .slim file saveSlim would write (encoded by the
 * writer itself, nothing written) to the sizes, then saves: a --save
 * PATH.slim writes those very bytes, another path a directory. With
 * --inplace the model may also hold codes of an earlier run whose weights
 * changed since: then there is no file size (the sizes say why) and a .slim
 * save is refused.
 */
async function fileSizeAndSave(result: QuantizeResult, quantized: Map<string, QuantizedTensor>, o: CommonOptions, fn: string): Promise<void> {
  const out = result.model;
  const huffman = o.huffman === true;
  const stale = staleQuantized(out);
  let encoding: SlimEncoding | undefined;
  let fileNote = stale.length > 0 ? staleMessage(stale, "size them") : null;
  try {
    if (stale.length === 0) encoding = await encodeSlim(out, { huffman });
  } catch (e) {
    // A model .slim cannot hold (a weight that is not float32, a Huffman code over 32 bits): the report says so; a .slim save fails below.
    if (!(isSlimlabError(e) && e.code === "E_MODEL")) throw e;
    fileNote = e.message;
  }
  result.sizes = { ...result.sizes, fileBytes: encoding?.bytes ?? null, fileRatio: encoding ? result.sizes.floatBytes / encoding.bytes : null, fileHuffman: huffman, stale, fileNote };
  if (o.save === undefined) return;
  if (!isSlimPath(o.save)) {
    result.saved = await saveQuantized(out, quantized, o.save, o.force === true);
  } else if (encoding === undefined) {
    const why = stale.length > 0 ? `${staleMessage(stale, "save them")}, or save the float32 weights with saveModel` : fileNote;
    throw new SlimlabError("E_MODEL", `${fn}: cannot save ${show(o.save)}: ${why}`);
  } else {
    result.saved = slimSaved(await writeSlim(encoding, o.save, { fn, force: o.force === true }));
  }
}

/** The rows, sizes and figures of a quantization (k-means rows also compare the two initialisations). */
async function report(
  out: tf.LayersModel,
  m: tf.LayersModel,
  r: Resolved,
  o: CommonOptions,
  quantized: Map<string, QuantizedTensor>,
  originals: Map<string, Float32Array>,
  configOf: (name: string) => LayerConfig,
  signal: AbortSignal,
  caller: Caller
): Promise<QuantizeResult> {
  const rows = layerRows(quantized, originals, o.huffman === true);
  if (r.config.scheme === "kmeans") {
    // Deep Compression's linear initialisation vs the DP optimum (kmeans.ts), over the values clustered (a pruned tensor's non-zeros).
    for (const row of rows) {
      await checkpoint(signal, () => `${caller.fn}: interrupted by the user while comparing k-means initialisations of ${row.weight}; ${caller.leaves}`);
      const w = clusteredValues(originals.get(row.weight) as Float32Array);
      const bits = configOf(row.weight).bits;
      row.mseLinearInit = codebookMse(w, kmeansCodebook(w, { bits, init: "linear" }));
      row.mseOptimal = codebookMse(w, kmeansCodebook(w, { bits, init: "optimal" }));
    }
  }
  const histograms = new Map<string, PlotlyFigure>();
  for (const [name, q] of quantized) histograms.set(name, histogramFigure(name, originals.get(name) as Float32Array, q));
  return { model: out, layers: rows, sizes: sizes(rows, m.countParams()), quantized, figures: { sizes: sizeFigure(rows), histograms } };
}
