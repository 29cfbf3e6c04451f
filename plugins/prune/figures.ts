/**
 * Plotly figures of a pruning run: sparsity per layer, the weight histogram
 * before and after with θ marked, the schedule's sparsity and accuracy per
 * step, and layer-removal scores. Histograms are binned here, so a 10M-weight
 * model sends 2 × 80 numbers to the browser, not 10M.
 */
import { PlotlyFigure } from "../core/figure";
import { Histogram, binCenters } from "../core/histogram";
import { ScheduleRecord } from "./attach";
import { LayerRow } from "./report";

/**
 * Bar chart of sparsity per layer.
 *
 * @param rows table rows ("(total)" left out)
 * @returns the figure
 * @example
 *   sparsityFigure(result.layers);
 */
export function sparsityFigure(rows: readonly LayerRow[]): PlotlyFigure {
  const layers = rows.filter((r) => r.layer !== "(total)");
  return {
    data: [{ type: "bar", x: layers.map((r) => r.layer), y: layers.map((r) => r.sparsity), name: "sparsity" }],
    layout: { title: { text: "Sparsity per layer" }, yaxis: { title: { text: "fraction of weights = 0" }, range: [0, 1] }, xaxis: { title: { text: "layer" } } },
  };
}

/**
 * Weight histogram before and after pruning (exact zeros left out of
 * "after"), with the thresholds θ marked at ±θ.
 *
 * @param before histogram of the pruned weights before
 * @param after histogram after, same edges
 * @param zerosAfter how many weights are zero after (named in the legend)
 * @param thresholds θ per weight name (at most 8 distinct values are drawn)
 * @returns the figure
 * @example
 *   histogramFigure(h0, h1, 1200, new Map([["fc1/kernel", 0.02]]));
 */
export function histogramFigure(before: Histogram, after: Histogram, zerosAfter: number, thresholds: ReadonlyMap<string, number> = new Map()): PlotlyFigure {
  const centers = binCenters(before);
  const byTheta = new Map<number, string[]>();
  for (const [name, t] of thresholds) if (t > 0) byTheta.set(t, [...(byTheta.get(t) ?? []), name.split("/")[0]]);
  const marks = [...byTheta.entries()].slice(0, 8);
  const shapes = marks.flatMap(([t]) => [-t, t].map((x) => ({ type: "line", x0: x, x1: x, y0: 0, y1: 1, yref: "paper", line: { dash: "dash", width: 1 } })));
  const annotations = marks.map(([t, names]) => ({ x: t, y: 1, yref: "paper", text: `θ=${t.toPrecision(3)} (${names.join(", ")})`, showarrow: false, textangle: -90, xanchor: "left", yanchor: "top" }));
  return {
    data: [
      { type: "bar", x: centers, y: before.counts, name: "before", opacity: 0.5 },
      { type: "bar", x: centers, y: after.counts, name: `after (${zerosAfter} zeros not shown)`, opacity: 0.7 },
    ],
    layout: { title: { text: "Weights of the pruned layers, before and after" }, barmode: "overlay", bargap: 0, shapes, annotations, xaxis: { title: { text: "weight value" } }, yaxis: { title: { text: "count" } } },
  };
}

/**
 * Sparsity (target and measured) and accuracy per optimizer step of a schedule.
 *
 * @param history the schedule's records
 * @returns the figure (accuracy on the right axis)
 * @example
 *   scheduleFigure(result.history);
 */
export function scheduleFigure(history: readonly ScheduleRecord[]): PlotlyFigure {
  const steps = history.map((h) => h.step);
  const acc = history.map((h) => h.valAccuracy ?? h.accuracy ?? null);
  return {
    data: [
      { type: "scatter", mode: "lines+markers", x: steps, y: history.map((h) => h.target), name: "target sparsity", line: { dash: "dot" } },
      { type: "scatter", mode: "lines+markers", x: steps, y: history.map((h) => h.sparsity), name: "kernel sparsity" },
      { type: "scatter", mode: "lines+markers", x: steps, y: acc, name: history.some((h) => h.valAccuracy !== undefined) ? "validation accuracy" : "batch accuracy", yaxis: "y2" },
    ],
    layout: {
      title: { text: "Sparsity and accuracy during the schedule" },
      xaxis: { title: { text: "optimizer step" } },
      yaxis: { title: { text: "sparsity" }, range: [0, 1] },
      yaxis2: { title: { text: "accuracy" }, overlaying: "y", side: "right", range: [0, 1] },
    },
  };
}

/**
 * Loss with each candidate layer bypassed (layer pruning's importance scores).
 *
 * @param base loss of the intact model
 * @param scores layer → loss without it
 * @param removed the layers removed
 * @returns the figure
 * @example
 *   layerScoreFigure(0.3, [{ layer: "fc2", loss: 0.31 }], ["fc2"]);
 */
export function layerScoreFigure(base: number, scores: readonly { layer: string; loss: number }[], removed: readonly string[]): PlotlyFigure {
  return {
    data: [{ type: "bar", x: scores.map((s) => s.layer), y: scores.map((s) => s.loss), name: "loss without layer", marker: { color: scores.map((s) => (removed.includes(s.layer) ? "#d62728" : "#1f77b4")) } }],
    layout: {
      title: { text: "Validation loss with each layer bypassed (red: removed)" },
      shapes: [{ type: "line", x0: 0, x1: 1, xref: "paper", y0: base, y1: base, line: { dash: "dash" } }],
      yaxis: { title: { text: "loss" } },
    },
  };
}
