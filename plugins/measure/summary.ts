/**
 * `%summary <model>`: Keras' model.summary() with the numbers compression
 * needs beside the parameter count: non-zero weights (what pruning removes),
 * MACs and FLOPs (what it costs to run, see cost.ts for what is counted) and
 * the bytes of each layer's output per example (activation memory).
 */
import * as tf from "@tensorflow/tfjs";
import { MimeBundle } from "../core/host";
import { escapeHtml, Row, tableBundle, toDataFrame } from "../core/table";
import { elements, layerCalls, layerCostIn } from "./cost";
import { bytes, count, textTable } from "./format";
import { assertFinite } from "../toolkit/finite";
import { checkModel } from "./inputs";

/** One layer of a summary. */
export interface SummaryRow {
  name: string;
  /** The tfjs class name: "Conv2D", "Dense", "MaxPooling2D", ... */
  kind: string;
  /** Shape of the (first) output without the batch axis. */
  outputShape: (number | null)[];
  /** All weights, trainable or not (BatchNormalization's moving statistics count). */
  params: number;
  /** Weights that are not exactly zero. */
  nonZeros: number;
  /** Weight multiply-accumulates per example, summed over the layer's calls. */
  macs: number;
  /** FLOPs per example (2 × MACs for Dense/Conv; see cost.ts). */
  flops: number;
  /** Bytes of the layer's outputs for one example, as float32. */
  activationBytes: number;
  /** False when summary has no FLOP rule for this layer class (its MACs and FLOPs are 0). */
  counted: boolean;
}

export interface SummaryTotals {
  params: number;
  nonZeros: number;
  /** nonZeros / params (1 for a dense model, 0 when there are no weights). */
  density: number;
  macs: number;
  flops: number;
  /** Sum of every layer's output bytes per example (all activations kept, as in training). */
  activationBytes: number;
  /** The largest single layer output per example. */
  peakActivationBytes: number;
  /** Layers whose cost is not counted (unknown classes). */
  uncounted: string[];
}

/** What `summary` returns: per-layer rows and totals, shown as a table. */
export class SummaryResult {
  constructor(readonly model: string, readonly rows: readonly SummaryRow[], readonly totals: SummaryTotals) {}

  /** The rows as plain table rows (output shape as text). */
  tableRows(): Row[] {
    return this.rows.map((r) => ({
      layer: r.name,
      kind: r.kind,
      output: shapeText(r.outputShape),
      params: r.params,
      nonZeros: r.nonZeros,
      MACs: r.macs,
      FLOPs: r.flops,
      activationBytes: r.activationBytes,
    }));
  }

  /** The rows as a danfo DataFrame. */
  toDataFrame(): import("danfojs").DataFrame {
    return toDataFrame(this.tableRows());
  }

  toString(): string {
    const body = this.rows.map((r) => [
      r.name, r.kind, shapeText(r.outputShape), count(r.params), count(r.nonZeros),
      r.counted ? count(r.macs) : "?", r.counted ? count(r.flops) : "?", bytes(r.activationBytes),
    ]);
    const t = this.totals;
    body.push(["total", "", "", count(t.params), count(t.nonZeros), count(t.macs), count(t.flops), bytes(t.activationBytes)]);
    return [`Model "${this.model}" (per example; FLOPs = 2 × MACs for Dense/Conv)`, textTable(["layer", "kind", "output", "params", "non-zeros", "MACs", "FLOPs", "activations"], body), this.footer()].join("\n");
  }

  private footer(): string {
    const t = this.totals;
    const lines = [`density ${(t.density * 100).toFixed(2)}% · peak activation ${bytes(t.peakActivationBytes)} per example`];
    if (t.uncounted.length > 0) lines.push(`not counted (no FLOP rule): ${t.uncounted.join(", ")}`);
    return lines.join("\n");
  }

  toMimeBundle(): MimeBundle {
    const table = tableBundle(this.tableRows());
    const t = this.totals;
    const totals =
      `<p>Total: ${count(t.params)} params, ${count(t.nonZeros)} non-zero, ${count(t.macs)} MACs, ${count(t.flops)} FLOPs, ` +
      `${bytes(t.activationBytes)} of activations per example. ${escapeHtml(this.footer())}</p>`;
    return { "text/plain": this.toString(), "text/html": `<p>Model "${escapeHtml(this.model)}"</p>${table["text/html"]}${totals}` };
  }
}

function shapeText(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? "?" : String(d))).join(", ")}]`;
}

function nonZeros(layer: tf.layers.Layer): number {
  let n = 0;
  for (const w of layer.weights) {
    const values = w.read().dataSync();
    for (let i = 0; i < values.length; i++) if (values[i] !== 0) n++;
  }
  return n;
}

function rowOf(model: tf.LayersModel, layer: tf.layers.Layer): SummaryRow {
  const calls = layerCalls(model, layer);
  const first = calls[0] ?? { inputs: [], outputs: [[]] };
  const { macs, flops, counted } = layerCostIn(model, layer);
  const activationBytes = calls.reduce((a, c) => a + c.outputs.reduce((b, s) => b + 4 * elements(s), 0), 0);
  return {
    name: layer.name,
    kind: layer.getClassName(),
    outputShape: [...first.outputs[0]],
    params: layer.countParams(),
    nonZeros: nonZeros(layer),
    macs,
    flops,
    activationBytes,
    counted,
  };
}

/**
 * Per-layer parameters, non-zeros, MACs, FLOPs and activation memory of a
 * model, with totals. Costs are per example (multiply by the batch size for
 * a batch); the conventions are in cost.ts (FLOPs = 2 × MACs for Dense/Conv;
 * bias and fused activations not counted).
 *
 * @param model a built tf.LayersModel (Sequential or functional; nested
 *   models appear as one row with their layers' sum)
 * @param options finiteChecked: skip the NaN/Inf weight check (a caller that already made it, e.g. compare)
 * @returns a SummaryResult with `rows`, `totals` and a table view
 * @throws SlimlabError E_TYPE for a non-model, E_MODEL for an empty or
 *   unbuilt one or one with NaN/Inf weights
 * @example
 *   const s = summary(lenet5());
 *   s.totals.macs; // 2293000
 */
export function summary(model: tf.LayersModel, options: { finiteChecked?: boolean } = {}): SummaryResult {
  const m = checkModel(model, "summary");
  if (options.finiteChecked !== true) assertFinite(m, "summary", "summarizing it");
  const rows = m.layers.map((layer) => rowOf(m, layer));
  const params = rows.reduce((a, r) => a + r.params, 0);
  const nz = rows.reduce((a, r) => a + r.nonZeros, 0);
  const totals: SummaryTotals = {
    params,
    nonZeros: nz,
    density: params === 0 ? 0 : nz / params,
    macs: rows.reduce((a, r) => a + r.macs, 0),
    flops: rows.reduce((a, r) => a + r.flops, 0),
    activationBytes: rows.reduce((a, r) => a + r.activationBytes, 0),
    peakActivationBytes: rows.reduce((a, r) => Math.max(a, r.activationBytes), 0),
    uncounted: rows.filter((r) => !r.counted).map((r) => r.name),
  };
  return new SummaryResult(m.name, rows, totals);
}
