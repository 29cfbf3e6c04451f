/**
 * The per-layer table of a pruning result and the plain-words note that goes
 * with it: what shrank, what did not, and whether anything got faster.
 *
 * Every size and FLOP count comes from plugins/measure, so `%prune` reports
 * the numbers `%size` and `%summary` report for the same model: sparse bytes
 * from measure/sparse.ts (Deep Compression's relative-index CSR, with row
 * pointers), gzip bytes from measure/size.ts (the whole weights file, level
 * 9) and FLOPs from measure/cost.ts (pooling and activations included).
 */
import * as tf from "@tensorflow/tfjs";
import { Row } from "../core/table";
import { modelCost } from "../measure/cost";
import { gzipBytes } from "../measure/size";
import { weightStorage } from "../measure/sparse";
import { weightRole } from "../toolkit/layers";

/** One row of the table: a weight-bearing layer, or "(total)". */
export interface LayerRow extends Row {
  layer: string;
  kind: string;
  /** Scalars in all the layer's weights (biases and BN statistics included). */
  params: number;
  nonZeros: number;
  /** 1 − nonZeros / params. */
  sparsity: number;
  /** float32 bytes as stored. */
  rawBytes: number;
  /** Kernels in relative-index CSR, other weights dense: measure's weightStorage, as `%size` counts. */
  sparseBytes: number;
}

/** Model-wide numbers the note compares. */
export interface ModelSummary {
  params: number;
  nonZeros: number;
  rawBytes: number;
  /** All weights as one float32 file, gzipped (measure's gzipBytes, = `%size`'s gzip); null when not computed. */
  gzipBytes: number | null;
  sparseBytes: number;
  /** FLOPs per example (measure's modelCost, = `%summary`'s total). */
  flops: number;
}

/** float32 storage: what a pruned (not quantized) model keeps per value. */
const FLOAT32 = { valueBits: 32, bytesPerElement: 4 } as const;

/**
 * One row per weight-bearing layer, plus a "(total)" row last. One pass over
 * each weight's values (non-zeros and CSR entries together).
 *
 * @param model the model to describe
 * @returns the rows
 * @example
 *   layerRows(model).at(-1)?.sparseBytes; // = (await size(model)).sparseBytes
 */
export function layerRows(model: tf.LayersModel): LayerRow[] {
  const rows: LayerRow[] = [];
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    let params = 0;
    let nonZeros = 0;
    let sparse = 0;
    for (const w of layer.weights) {
      const values = w.read().dataSync();
      const stored = weightStorage(values, w.shape as number[], weightRole(w), FLOAT32);
      params += values.length;
      nonZeros += stored.nonZeros;
      sparse += stored.sparseBytes;
    }
    rows.push({
      layer: layer.name,
      kind: layer.getClassName(),
      params,
      nonZeros,
      sparsity: params === 0 ? 0 : 1 - nonZeros / params,
      rawBytes: 4 * params,
      sparseBytes: sparse,
    });
  }
  const sum = (k: "params" | "nonZeros" | "rawBytes" | "sparseBytes") => rows.reduce((s, r) => s + r[k], 0);
  const params = sum("params");
  rows.push({
    layer: "(total)",
    kind: "",
    params,
    nonZeros: sum("nonZeros"),
    sparsity: params === 0 ? 0 : 1 - sum("nonZeros") / params,
    rawBytes: sum("rawBytes"),
    sparseBytes: sum("sparseBytes"),
  });
  return rows;
}

/**
 * The "(total)" row's numbers, the model's FLOPs and, if asked, the gzip
 * size of its weights file.
 *
 * @param model the model
 * @param rows its rows from layerRows
 * @param gzip compute gzipBytes (seconds for 10M weights: gzip level 9 of 40 MB)
 * @returns the summary
 * @example
 *   summarize(model, layerRows(model), true).gzipBytes; // = (await size(model)).gzipBytes
 */
export function summarize(model: tf.LayersModel, rows: readonly LayerRow[], gzip: boolean): ModelSummary {
  const t = rows[rows.length - 1];
  // model.weights order is the order model.save writes the weights in.
  const file = gzip ? gzipBytes(model.weights.map((w) => w.read().dataSync())) : null;
  return { params: t.params, nonZeros: t.nonZeros, rawBytes: t.rawBytes, gzipBytes: file, sparseBytes: t.sparseBytes, flops: modelCost(model).flops };
}

const kb = (b: number | null) => (b === null ? "?" : b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} KB`);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const ratio = (a: number, b: number) => (b === 0 ? "∞" : `${(a / b).toFixed(2)}×`);

/**
 * What a pruning run changed, in plain words.
 *
 * @param method the method that ran
 * @param before the original model's summary
 * @param after the result's summary
 * @param stripped whether the result was physically rebuilt
 * @returns one paragraph
 * @example
 *   pruneNote("magnitude", before, after, false); // "Magnitude pruning set ... Dense kernels do not get faster ..."
 */
export function pruneNote(method: string, before: ModelSummary, after: ModelSummary, stripped: boolean): string {
  const zeros = `${after.params - after.nonZeros} of ${after.params} weights are zero (${pct(1 - after.nonZeros / Math.max(1, after.params))})`;
  const sizes = `gzip ${kb(before.gzipBytes)} → ${kb(after.gzipBytes)}, sparse CSR (Deep Compression relative indices) ${kb(before.sparseBytes)} → ${kb(after.sparseBytes)}`;
  if (method === "magnitude" || (!stripped && method !== "layer")) {
    const what = method === "magnitude" ? "Magnitude pruning" : `${method === "structured" ? "Structured" : "Neuron"} pruning (masks only, not stripped)`;
    return (
      `${what}: ${zeros}. Dense kernels do not get faster: tfjs multiplies the zeros like any other weight, so latency and FLOPs (${after.flops}) are unchanged, ` +
      `and the raw float32 size stays ${kb(after.rawBytes)}. What changed: ${sizes}.` +
      (method === "magnitude" ? "" : " Pass strip: true (--strip) to rebuild a physically smaller model.")
    );
  }
  return (
    `${method === "layer" ? "Layer pruning" : method === "structured" ? "Structured pruning" : "Neuron pruning"} rebuilt a smaller model: ` +
    `parameters ${before.params} → ${after.params} (${ratio(before.params, after.params)} fewer), FLOPs per sample ${before.flops} → ${after.flops} (${ratio(before.flops, after.flops)} fewer), ` +
    `raw size ${kb(before.rawBytes)} → ${kb(after.rawBytes)}, ${sizes}. Latency falls with the FLOPs only where layers are large enough for compute to dominate: measure it.`
  );
}
