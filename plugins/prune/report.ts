/**
 * The per-layer table of a pruning result and the plain-words note that goes
 * with it: what shrank, what did not, and whether anything got faster.
 */
import * as tf from "@tensorflow/tfjs";
import { Row } from "../core/table";
import { weightRole } from "../toolkit/layers";
import { PruneRegistry } from "./registry";
import { gzipBytes, modelFlops, scanWeight } from "./sizes";

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
  /** Those bytes gzipped; null when sizes were not computed. */
  gzipBytes: number | null;
  /** Kernels in Deep Compression's relative-index format (5-bit gaps fc, 8-bit conv), other weights dense. */
  sparseBytes: number;
}

/** Model-wide numbers the note compares. */
export interface ModelSummary {
  params: number;
  nonZeros: number;
  rawBytes: number;
  gzipBytes: number | null;
  sparseBytes: number;
  flops: number;
}

/**
 * One row per weight-bearing layer, plus a "(total)" row last.
 *
 * @param model the model to describe
 * @param registry tells which weights are kernels and which layers are conv-like
 * @param gzip compute gzip sizes (slow for very large models)
 * @returns the rows
 * @example
 *   layerRows(model, builtinPrunables(), true).at(-1)?.sparsity;
 */
export function layerRows(model: tf.LayersModel, registry: PruneRegistry, gzip = true): LayerRow[] {
  const rows: LayerRow[] = [];
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const entry = registry.get(layer.getClassName());
    const bits = entry?.conv ? 8 : 5;
    const kernels = entry?.kernels ?? ["kernel"];
    let params = 0;
    let nonZeros = 0;
    let sparse = 0;
    const chunks: Float32Array[] = [];
    for (const w of layer.weights) {
      const values = w.read().dataSync() as Float32Array;
      const scan = scanWeight(values, bits);
      params += values.length;
      nonZeros += scan.nonZeros;
      sparse += kernels.includes(weightRole(w)) ? Math.ceil((scan.entries * (32 + bits)) / 8) : 4 * values.length;
      if (gzip) chunks.push(values);
    }
    rows.push({
      layer: layer.name,
      kind: layer.getClassName(),
      params,
      nonZeros,
      sparsity: params === 0 ? 0 : 1 - nonZeros / params,
      rawBytes: 4 * params,
      gzipBytes: gzip ? gzipBytes(chunks) : null,
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
    gzipBytes: gzip ? rows.reduce((s, r) => s + (r.gzipBytes ?? 0), 0) : null,
    sparseBytes: sum("sparseBytes"),
  });
  return rows;
}

/**
 * The "(total)" row's numbers and the model's FLOPs.
 *
 * @param model the model
 * @param rows its rows from layerRows
 * @returns the summary
 * @example
 *   summarize(model, layerRows(model, builtinPrunables())).flops;
 */
export function summarize(model: tf.LayersModel, rows: readonly LayerRow[]): ModelSummary {
  const t = rows[rows.length - 1];
  return { params: t.params, nonZeros: t.nonZeros, rawBytes: t.rawBytes, gzipBytes: t.gzipBytes, sparseBytes: t.sparseBytes, flops: modelFlops(model) };
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
  const sizes = `gzip ${kb(before.gzipBytes)} → ${kb(after.gzipBytes)}, sparse (Deep Compression relative-index count) ${kb(before.sparseBytes)} → ${kb(after.sparseBytes)}`;
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
