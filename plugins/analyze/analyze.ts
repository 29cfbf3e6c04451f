/**
 * analyze(): per-layer sensitivity in the manner of AIMET's QuantAnalyzer.
 * The model's accuracy on the given data is measured first as it is, then
 * with one change at a time:
 * - only one layer's weights quantized, at each of several widths;
 * - only one layer's kernel magnitude-pruned, at each of several
 *   sparsities (no retraining);
 * - model-wide, 8-bit weights only, 8-bit activations only, and both.
 * Each change runs through the same quantize() and prune() the magics run,
 * on a copy they make and this module frees at once; the given model is
 * only read. The drops in accuracy guide per-layer choices: see
 * AnalyzeResult.plan().
 *
 * The data should be a validation split: choosing bits or sparsities on
 * the test set and then reporting test accuracy overstates the result.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, isSlimlabError, show, suggestion } from "../core/errors";
import { host } from "../core/host";
import { asLabeledData, isDataset } from "../data/dataset";
import { builtinPrunables } from "../prune/registry";
import { prune } from "../prune/prune";
import { quantize, QuantizeOptions } from "../quantize/quantize";
import { builtinQuantizables, quantizableWeights } from "../quantize/registry";
import { checkBits } from "../quantize/scheme";
import { assertFinite } from "../toolkit/finite";
import { requireModel, selectLayers } from "../toolkit/layers";
import { removeMasks } from "../toolkit/masks";
import { Caller, checkpoint, isInterrupt } from "../toolkit/pace";
import { checkSamples, evaluate, TrainData } from "../toolkit/train";
import { AnalyzeResult, AnalyzeRow } from "./result";

/** Quantization schemes whose width can vary, so a layer can be measured at several. */
export const ANALYZE_SCHEMES = ["affine", "symmetric", "kmeans", "pow2"] as const;
export type AnalyzeScheme = (typeof ANALYZE_SCHEMES)[number];

/** Options of {@link analyze}. */
export interface AnalyzeOptions {
  /** Labelled data {xs, ys} to measure accuracy on: a validation split, never the test set. */
  data: TrainData;
  /** Widths to quantize each layer's weights at (default 2, 4, 6, 8). */
  bits?: readonly number[];
  /** Fractions of each layer's kernel to prune (default 0.3, 0.5, 0.7, 0.9). */
  sparsities?: readonly number[];
  /** Comma-separated layer names or globs (default: every layer with a quantizable kernel). */
  layers?: string;
  /** Quantization scheme (default affine). */
  scheme?: AnalyzeScheme;
  /** One scale per output channel (affine, symmetric). */
  perChannel?: boolean;
  /** Samples per forward pass when scoring (default 256). */
  batchSize?: number;
}

const KNOWN = ["data", "bits", "sparsities", "layers", "scheme", "perChannel", "batchSize"];
const DEFAULT_BITS = [2, 4, 6, 8];
const DEFAULT_SPARSITIES = [0.3, 0.5, 0.7, 0.9];
/** The width of the model-wide rows. */
export const MODEL_BITS = 8;

function bad(message: string): never {
  throw new SlimlabError("E_ARG", `analyze: ${message}`);
}

function sortedUnique(values: readonly number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

interface Checked {
  data: TrainData;
  bits: number[];
  sparsities: number[];
  scheme: AnalyzeScheme;
  perChannel: boolean;
  batchSize: number;
  /** Layer name and whether magnitude pruning supports its class. */
  layers: { name: string; prunable: boolean }[];
}

function check(m: tf.LayersModel, options: AnalyzeOptions): Checked {
  if (typeof options !== "object" || options === null) bad(`options must be an object such as {data: val}, received ${show(options)}`);
  const unknown = Object.keys(options).find((k) => !KNOWN.includes(k));
  if (unknown !== undefined) bad(`unknown option ${show(unknown)}${suggestion(unknown, KNOWN)}; allowed: ${KNOWN.join(", ")}`);
  if (options.data === undefined) throw new SlimlabError("E_MISSING_ARG", "analyze: missing data; pass labelled validation data {xs, ys} (--data <var>)");
  const source = asLabeledData(options.data, "data");
  if (isDataset(source)) throw new SlimlabError("E_TYPE", "analyze: data got a tf.data.Dataset; pass {xs, ys} tensors (collect the dataset with toArray first)");
  const scheme = options.scheme ?? "affine";
  if (!ANALYZE_SCHEMES.includes(scheme)) bad(`scheme ${show(scheme)} is not allowed${suggestion(String(scheme), ANALYZE_SCHEMES)}; allowed: ${ANALYZE_SCHEMES.join(", ")} (schemes whose width can vary)`);
  const bitsIn = options.bits ?? DEFAULT_BITS;
  if (!Array.isArray(bitsIn) || bitsIn.length === 0) bad(`bits ${show(bitsIn)} is not allowed; pass a list of widths, e.g. [2, 4, 6, 8]`);
  for (const b of bitsIn) checkBits(scheme, b, "analyze");
  const spIn = options.sparsities ?? DEFAULT_SPARSITIES;
  if (!Array.isArray(spIn) || spIn.length === 0) bad(`sparsities ${show(spIn)} is not allowed; pass a list of fractions, e.g. [0.3, 0.5, 0.7, 0.9]`);
  for (const s of spIn) if (typeof s !== "number" || !(s > 0 && s < 1)) bad(`sparsity ${show(s)} is outside (0, 1); pass fractions of a kernel to prune, e.g. 0.5`);
  if (options.perChannel === true && scheme !== "affine" && scheme !== "symmetric") bad(`perChannel applies to schemes affine and symmetric, not ${scheme}`);
  const batchSize = options.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) bad(`batchSize ${show(batchSize)} is not allowed; pass a positive integer`);
  let picked: tf.layers.Layer[];
  try {
    picked = options.layers === undefined ? m.layers : selectLayers(m, options.layers).map((l) => l.layer);
  } catch (e) {
    if (isSlimlabError(e)) throw new SlimlabError(e.code, e.message.replace(/^selectLayers: /, "analyze: layers: "));
    throw e;
  }
  const quantizable = builtinQuantizables();
  const prunable = builtinPrunables();
  const names = [...new Set(quantizableWeights(picked, quantizable).map((t) => t.layer))];
  if (names.length === 0) {
    throw new SlimlabError("E_MODEL", `analyze: model "${m.name}" has no layer with a quantizable kernel${options.layers === undefined ? "" : ` in ${show(options.layers)}`}; analyzed classes: ${quantizable.classes().join(", ")}`);
  }
  const layers = names.map((l) => ({ name: l.name, prunable: prunable.supports(l.getClassName(), "magnitude") }));
  checkSamples(m, source, "analyze", "data");
  return { data: source, bits: sortedUnique(bitsIn), sparsities: sortedUnique(spIn), scheme, perChannel: options.perChannel === true, batchSize, layers };
}

/** One change to measure: what it is, and how to build the changed copy. */
interface Change {
  row: Omit<AnalyzeRow, "accuracy" | "drop" | "note">;
  what: string;
  build(): Promise<tf.LayersModel>;
}

function changes(m: tf.LayersModel, c: Checked): Change[] {
  const q = (o: QuantizeOptions) => async () => (await quantize(m, o)).model;
  const base = { scheme: c.scheme, ...(c.perChannel ? { perChannel: true } : {}) } as QuantizeOptions;
  const out: Change[] = [];
  for (const l of c.layers) {
    for (const bits of c.bits) {
      out.push({ row: { layer: l.name, kind: "quantize", bits, sparsity: null }, what: `${l.name} at ${bits} bits`, build: q({ ...base, bits, layers: l.name } as QuantizeOptions) });
    }
    if (!l.prunable) continue;
    for (const sparsity of c.sparsities) {
      out.push({
        row: { layer: l.name, kind: "prune", bits: null, sparsity },
        what: `${l.name} pruned to ${sparsity}`,
        build: async () => (await prune(m, { sparsity, layers: l.name, report: false })).model,
      });
    }
  }
  const wide = { ...base, bits: MODEL_BITS } as QuantizeOptions;
  out.push({ row: { layer: "(model)", kind: "weights", bits: MODEL_BITS, sparsity: null }, what: `weights at ${MODEL_BITS} bits`, build: q(wide) });
  const acts = { ...wide, calibrate: c.data.xs, activationBits: MODEL_BITS } as QuantizeOptions;
  out.push({ row: { layer: "(model)", kind: "activations", bits: MODEL_BITS, sparsity: null }, what: `activations at ${MODEL_BITS} bits`, build: q({ ...acts, target: "activations" } as QuantizeOptions) });
  out.push({ row: { layer: "(model)", kind: "both", bits: MODEL_BITS, sparsity: null }, what: `weights and activations at ${MODEL_BITS} bits`, build: q({ ...acts, target: "both" } as QuantizeOptions) });
  return out;
}

/** Frees a copy quantize() or prune() made (a pruned copy also holds masks). */
function release(model: tf.LayersModel): void {
  removeMasks(model);
  model.dispose();
}

/**
 * Measures how much accuracy each layer loses when only it is quantized
 * or pruned, and the model-wide effect of 8-bit weights vs activations.
 *
 * @param model a built single-output classifier (tf.LayersModel); only read
 * @param options `data` (a validation split, required), bits, sparsities,
 *   layers, scheme, perChannel, batchSize; see {@link AnalyzeOptions}
 * @returns an AnalyzeResult: the baseline accuracy, one row per change
 *   (accuracy and drop in percentage points), a table and a heat map
 *   (shown when it is a cell's value) and plan({maxDrop})
 * @throws SlimlabError E_ARG for bits outside the scheme's range,
 *   sparsities outside (0, 1), an unknown option or a layer glob matching
 *   nothing; E_MISSING_ARG without data; E_TYPE/E_DATA for data that is not
 *   {xs, ys} or does not fit the model; E_MODEL for a model without a
 *   quantizable layer or with NaN/Inf weights; E_INTERRUPTED when the user
 *   interrupts (checked before each change and each scoring batch). Nothing
 *   is kept on any error.
 * @example
 *   const a = await analyze(model, { data: val });
 *   a.baseline; // e.g. 0.953
 *   const { layerBits, layerSparsity } = a.plan({ maxDrop: 0.5 });
 */
export async function analyze(model: tf.LayersModel, options: AnalyzeOptions): Promise<AnalyzeResult> {
  const m = requireModel(model, "analyze");
  const c = check(m, options);
  assertFinite(m, "analyze", "analyzing it");
  const signal = host().signal();
  const caller: Caller = { fn: "analyze", leaves: "no analysis was kept and the model is unchanged; run the cell again" };
  const score = async (x: tf.LayersModel) => (await evaluate(x, c.data, c.batchSize, undefined, signal, caller)).accuracy;
  const todo = changes(m, c);
  const bar = host().progress(`analyze ${m.name}`, todo.length + 1);
  const rows: AnalyzeRow[] = [];
  try {
    const baseline = await score(m);
    bar.update(1);
    for (const [i, change] of todo.entries()) {
      await checkpoint(signal, () => `analyze: interrupted by the user before measuring ${change.what} (${i} of ${todo.length} changes done); ${caller.leaves}`);
      let copy: tf.LayersModel | undefined;
      try {
        copy = await change.build();
        const accuracy = await score(copy);
        rows.push({ ...change.row, accuracy, drop: 100 * (baseline - accuracy), note: "" });
      } catch (e) {
        if (isInterrupt(e)) throw new SlimlabError("E_INTERRUPTED", `analyze: interrupted by the user while measuring ${change.what} (${i} of ${todo.length} changes done); ${caller.leaves}`);
        // A model-wide row the model cannot take (no activation to quantize): recorded with its reason.
        if (change.row.layer === "(model)" && isSlimlabError(e) && e.code === "E_MODEL") {
          rows.push({ ...change.row, accuracy: NaN, drop: NaN, note: e.message.replace(/^quantize: /, "") });
          continue;
        }
        if (isSlimlabError(e)) throw new SlimlabError(e.code, `analyze: measuring ${change.what} failed: ${e.message}`);
        throw new SlimlabError("E_MODEL", `analyze: measuring ${change.what} failed inside tfjs (${(e as Error)?.message ?? String(e)}); nothing was kept`);
      } finally {
        if (copy !== undefined) release(copy);
      }
      bar.update(i + 2, change.what);
    }
    bar.end("done");
    return new AnalyzeResult({ model: m.name, samples: c.data.xs.shape[0], baseline, scheme: c.scheme, perChannel: c.perChannel, bits: c.bits, sparsities: c.sparsities, rows });
  } catch (e) {
    bar.end(isInterrupt(e) ? "interrupted" : "error");
    throw e;
  }
}
