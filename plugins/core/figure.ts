/**
 * Plotly figures as MIME bundles. The figure itself goes out as
 * `application/vnd.plotly.v1+json` (JupyterLab with the plotly extension,
 * Notebook 7, VS Code, nteract draw it natively); a `text/html` fallback
 * draws it where only HTML runs (classic Notebook 6, nbconvert's HTML). The
 * fallback does not carry plotly.js: the kernel sends it once per notebook,
 * in an output of its own, before the first figure (plotly-html.ts).
 */
import { MimeBundle } from "./host";
import { figureHtml, PLOTLY_MIME } from "./plotly-html";

export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
  frames?: Record<string, unknown>[];
}

/**
 * The MIME bundle for a Plotly figure.
 * @param fig data + layout as plotly.js takes them
 * @example display.bundle(plotlyBundle({ data: [{ y: [1, 3, 2] }] }))
 */
export function plotlyBundle(fig: PlotlyFigure): MimeBundle {
  const figure = { data: fig.data, layout: fig.layout ?? {}, config: fig.config ?? {} };
  const title = (fig.layout?.title as { text?: string } | string | undefined) ?? "";
  const titleText = typeof title === "string" ? title : title.text ?? "";
  return {
    [PLOTLY_MIME]: figure,
    "text/html": figureHtml(figure),
    "text/plain": `Figure: ${titleText || "(untitled)"} (${fig.data.length} trace${fig.data.length === 1 ? "" : "s"})`,
  };
}

/** A figure value: shown as a figure when it is a cell's last value. */
export class Figure implements PlotlyFigure {
  constructor(public data: Record<string, unknown>[], public layout: Record<string, unknown> = {}, public config: Record<string, unknown> = {}) {}
  toMimeBundle(): MimeBundle {
    return plotlyBundle(this);
  }
}
