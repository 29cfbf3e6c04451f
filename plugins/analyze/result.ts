/**
 * What analyze() returns: the measurements, their table and heat map (one
 * MIME bundle, shown when the result is a cell's value), and the per-layer
 * plan `%quantize --plan` and `%prune --plan` read.
 */
import { SlimlabError, show } from "../core/errors";
import { PlotlyFigure, plotlyBundle } from "../core/figure";
import { MimeBundle } from "../core/host";
import { escapeHtml, Row, tableBundle } from "../core/table";
import { CompressionPlan } from "../toolkit/plan";

/** What one row changed: one layer's weights or kernel, or the whole model. */
export type ChangeKind = "quantize" | "prune" | "weights" | "activations" | "both";

/** One measurement. */
export interface AnalyzeRow {
  /** The layer changed, or "(model)" for the model-wide rows. */
  layer: string;
  kind: ChangeKind;
  /** Bits of the weights (quantize, weights, both) or activations (activations, both). */
  bits: number | null;
  /** Fraction of the layer's kernel pruned (prune). */
  sparsity: number | null;
  /** Accuracy on the data, a fraction (NaN when the change was not possible). */
  accuracy: number;
  /** Baseline minus accuracy, in percentage points (negative: the change helped). */
  drop: number;
  /** Why a model-wide change was not possible, else "". */
  note: string;
}

export interface AnalyzeFacts {
  model: string;
  samples: number;
  baseline: number;
  scheme: string;
  perChannel: boolean;
  bits: number[];
  sparsities: number[];
  rows: AnalyzeRow[];
}

const pct = (s: number) => `${Math.round(s * 1000) / 10}%`;

/** The change of a row in words: "4 bits", "pruned 50%", "weights only, 8 bits". */
export function changeText(r: Pick<AnalyzeRow, "kind" | "bits" | "sparsity">): string {
  switch (r.kind) {
    case "quantize":
      return `${r.bits} bits`;
    case "prune":
      return `pruned ${pct(r.sparsity as number)}`;
    case "weights":
      return `weights only, ${r.bits} bits`;
    case "activations":
      return `activations only, ${r.bits} bits`;
    case "both":
      return `weights and activations, ${r.bits} bits`;
  }
}

/** How far above maxDrop (in points) a measured drop may read and still count as equal. */
export const TOLERANCE = 1e-9;

/** Default largest single-layer drop of a plan, in percentage points. */
export const DEFAULT_MAX_DROP = 1;

export class AnalyzeResult {
  readonly model: string;
  /** Samples the accuracies were measured on. */
  readonly samples: number;
  /** Accuracy of the unchanged model on the data. */
  readonly baseline: number;
  readonly scheme: string;
  readonly perChannel: boolean;
  readonly bits: number[];
  readonly sparsities: number[];
  readonly rows: AnalyzeRow[];

  constructor(f: AnalyzeFacts) {
    this.model = f.model;
    this.samples = f.samples;
    this.baseline = f.baseline;
    this.scheme = f.scheme;
    this.perChannel = f.perChannel;
    this.bits = f.bits;
    this.sparsities = f.sparsities;
    this.rows = f.rows;
  }

  /** The layers analyzed, in model order. */
  get layers(): string[] {
    return [...new Set(this.rows.filter((r) => r.layer !== "(model)").map((r) => r.layer))];
  }

  /**
   * Per layer, the fewest bits and the highest sparsity whose single-layer
   * accuracy drop is at most `maxDrop` points. A layer where no width
   * qualifies keeps the widest analyzed; where no sparsity qualifies, 0.
   * Single-layer drops do not simply add up: measure the planned model.
   *
   * @param options maxDrop in percentage points (default 1)
   * @returns layerBits and layerSparsity by layer name, with the scheme measured
   * @throws SlimlabError E_ARG for a maxDrop that is not a number >= 0
   * @example
   *   a.plan({ maxDrop: 0.5 }); // { layerBits: { fc1: 2, fc2: 6 }, layerSparsity: { fc1: 0.9, fc2: 0.5 }, ... }
   */
  plan(options: { maxDrop?: number } = {}): CompressionPlan {
    const maxDrop = options.maxDrop ?? DEFAULT_MAX_DROP;
    if (typeof maxDrop !== "number" || !Number.isFinite(maxDrop) || maxDrop < 0) {
      throw new SlimlabError("E_ARG", `plan: maxDrop ${show(maxDrop)} is not allowed; pass percentage points >= 0, e.g. 0.5`);
    }
    const layerBits: Record<string, number> = {};
    const layerSparsity: Record<string, number> = {};
    for (const layer of this.layers) {
      const own = this.rows.filter((r) => r.layer === layer);
      // Accuracies are sums of float batch scores: a drop of exactly maxDrop may read 1e-12 above it. NaN never fits.
      const fits = (r: AnalyzeRow) => r.drop <= maxDrop + TOLERANCE;
      const bits = own.filter((r) => r.kind === "quantize").map((r) => ({ v: r.bits as number, ok: fits(r) }));
      const ok = bits.filter((b) => b.ok).map((b) => b.v);
      layerBits[layer] = ok.length > 0 ? Math.min(...ok) : Math.max(...bits.map((b) => b.v));
      const sp = own.filter((r) => r.kind === "prune");
      if (sp.length > 0) layerSparsity[layer] = Math.max(0, ...sp.filter(fits).map((r) => r.sparsity as number));
    }
    return { layerBits, layerSparsity, scheme: this.scheme, perChannel: this.perChannel, maxDrop };
  }

  /** The rows as the table shows them. */
  tableRows(): Row[] {
    const head: Row = { layer: "(model)", change: "none (baseline)", "accuracy %": 100 * this.baseline, "drop (points)": 0, note: "" };
    return [head, ...this.rows.map((r) => ({ layer: r.layer, change: changeText(r), "accuracy %": 100 * r.accuracy, "drop (points)": r.drop, note: r.note }))];
  }

  /** Layers × settings, coloured by the accuracy drop in points. */
  figure(): PlotlyFigure {
    const settings = [...this.bits.map((b) => ({ kind: "quantize", bits: b, sparsity: null })), ...this.sparsities.map((s) => ({ kind: "prune", bits: null, sparsity: s }))] as Pick<AnalyzeRow, "kind" | "bits" | "sparsity">[];
    const layers = this.layers;
    const z = layers.map((layer) =>
      settings.map((s) => {
        const r = this.rows.find((x) => x.layer === layer && x.kind === s.kind && x.bits === s.bits && x.sparsity === s.sparsity);
        return r === undefined || Number.isNaN(r.drop) ? null : r.drop;
      })
    );
    const text = z.map((row) => row.map((v) => (v === null ? "–" : v.toFixed(2))));
    return {
      data: [{ type: "heatmap", x: settings.map(changeText), y: layers, z, text, texttemplate: "%{text}", colorscale: "Reds", zmin: 0, colorbar: { title: { text: "drop (points)" } }, hovertemplate: "%{y}, %{x}: drop %{z:.2f} points<extra></extra>" }],
      layout: {
        title: { text: `Accuracy drop when only one layer changes (baseline ${(100 * this.baseline).toFixed(2)}% on ${this.samples} samples)` },
        xaxis: { title: { text: `weights quantized (${this.scheme}${this.perChannel ? ", per channel" : ""}) or kernel pruned` } },
        yaxis: { title: { text: "layer" }, autorange: "reversed" },
        height: Math.max(300, 120 + 40 * layers.length),
      },
    };
  }

  /** One line about what was measured and on what. */
  private heading(): string {
    return `Sensitivity of "${this.model}": accuracy on ${this.samples} samples (a validation split, not the test set), baseline ${(100 * this.baseline).toFixed(2)}%; drops in percentage points, one change at a time.`;
  }

  toString(): string {
    return `${this.heading()}\n${tableBundle(this.tableRows())["text/plain"] as string}`;
  }

  toMimeBundle(): MimeBundle {
    const fig = plotlyBundle(this.figure());
    const table = tableBundle(this.tableRows());
    return { ...fig, "text/plain": this.toString(), "text/html": `<p>${escapeHtml(this.heading())}</p>${table["text/html"]}${fig["text/html"]}` };
  }
}
