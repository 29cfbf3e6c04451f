/**
 * Showing a pruning result in the notebook: the note, the per-layer table
 * (a danfo DataFrame's HTML) and the Plotly figures, through host() so the
 * same code prints text in plain Node.
 */
import { escapeHtml, tableBundle } from "../core/table";
import { plotlyBundle } from "../core/figure";
import { Host, host } from "../core/host";
import type { PruneResult } from "./prune";

/**
 * Displays a result's note, table and figures.
 *
 * @param result what prune() returned
 * @param h the host to display through (default host())
 * @example
 *   showPruneResult(await prune(model, { sparsity: 0.8 }));
 */
export function showPruneResult(result: PruneResult, h: Host = host()): void {
  const skipped = result.skipped.length === 0 ? "" : ` Skipped: ${result.skipped.map((s) => `${s.layer} (${s.reason})`).join("; ")}.`;
  const saved = result.saved === undefined ? "" : ` Saved ${result.saved.format === "slim" ? "a .slim file" : "a tfjs model"} to ${result.saved.path}: ${result.saved.bytes} bytes on disk.`;
  const text = `${result.note}${skipped}${saved}`;
  h.display({ "text/plain": text, "text/html": `<p>${escapeHtml(text)}</p>` });
  h.display(tableBundle(result.layers));
  for (const fig of result.figures) h.display(plotlyBundle(fig));
}
