/**
 * The live chart of a distillation run: loss on the left, accuracy on the
 * right, one line per (run, split), redrawn in place after every epoch.
 * The distilled student's training loss is its distillation objective; its
 * validation loss, like the baseline's, is plain cross-entropy, so the
 * validation curves of the two students can be compared directly.
 */
import type { PlotlyFigure } from "../core/figure";
import type { LoopHistory } from "./loop";

/** One run to draw: a name and its history so far. */
export interface ChartRun {
  name: string;
  history: LoopHistory;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/** The four traces (train/val × loss/accuracy) of one run. */
function traces(run: ChartRun, color: string): Record<string, unknown>[] {
  const epochs = run.history.epochs.filter((e) => e.complete);
  const x = epochs.map((e) => e.epoch + 1);
  const line = (dash: string) => ({ color, dash });
  const out: Record<string, unknown>[] = [
    { x, y: epochs.map((e) => e.loss), name: `${run.name} train loss`, mode: "lines+markers", line: line("solid"), xaxis: "x", yaxis: "y" },
    { x, y: epochs.map((e) => e.acc), name: `${run.name} train acc`, mode: "lines+markers", line: line("solid"), xaxis: "x2", yaxis: "y2" },
  ];
  if (epochs.some((e) => e.valLoss !== undefined)) {
    out.push(
      { x, y: epochs.map((e) => e.valLoss ?? null), name: `${run.name} val loss (CE)`, mode: "lines+markers", line: line("dash"), xaxis: "x", yaxis: "y" },
      { x, y: epochs.map((e) => e.valAcc ?? null), name: `${run.name} val acc`, mode: "lines+markers", line: line("dash"), xaxis: "x2", yaxis: "y2" }
    );
  }
  return out;
}

/**
 * The Plotly figure of one or more runs' curves.
 *
 * @param runs e.g. [{name: "distilled", history}, {name: "baseline", history}]
 * @param title the chart title
 * @returns a figure for plotlyBundle
 * @example
 *   host().liveDisplay(plotlyBundle(curvesFigure([{ name: "distilled", history }], "distill")));
 */
export function curvesFigure(runs: readonly ChartRun[], title: string): PlotlyFigure {
  return {
    data: runs.flatMap((r, i) => traces(r, COLORS[i % COLORS.length])),
    layout: {
      title: { text: title },
      height: 380,
      grid: { rows: 1, columns: 2, pattern: "independent" },
      xaxis: { title: { text: "epoch" }, dtick: 1 },
      yaxis: { title: { text: "loss" } },
      xaxis2: { title: { text: "epoch" }, dtick: 1 },
      yaxis2: { title: { text: "accuracy" } },
      legend: { orientation: "h", y: -0.25 },
    },
  };
}
