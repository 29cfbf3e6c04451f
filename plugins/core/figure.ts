/**
 * Plotly figures as MIME bundles. The figure itself goes out as
 * `application/vnd.plotly.v1+json` (JupyterLab with the plotly extension,
 * Notebook 7, VS Code, nteract draw it natively); a `text/html` fallback
 * draws it where only HTML runs (classic Notebook 6, nbconvert's HTML),
 * with plotly.js inlined once per host (kernel session) from the npm package.
 */
import * as fs from "fs";
import { host, Host, MimeBundle } from "./host";

export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
  frames?: Record<string, unknown>[];
}

/** Hosts that have already received plotly.js in an HTML output. */
const inlined = new WeakSet<Host>();

function plotlyScript(): string {
  const file = require.resolve("plotly.js-dist-min");
  // Classic Notebook loads require.js, whose global `define` would make
  // plotly.js register as an AMD module instead of window.Plotly: hide it.
  return `<script type="text/javascript">(function(define){${fs.readFileSync(file, "utf8")}\n})(undefined);</script>`;
}

let counter = 0;

/**
 * The MIME bundle for a Plotly figure.
 * @param fig data + layout as plotly.js takes them
 * @param forHost the host the bundle is for (plotly.js is inlined the first time per host)
 * @example display.bundle(plotlyBundle({ data: [{ y: [1, 3, 2] }] }))
 */
export function plotlyBundle(fig: PlotlyFigure, forHost: Host = host()): MimeBundle {
  const id = `slimlab-plot-${process.pid}-${++counter}`;
  const withLib = !inlined.has(forHost);
  inlined.add(forHost);
  const json = JSON.stringify({ data: fig.data, layout: fig.layout ?? {}, config: fig.config ?? {} }).replace(/</g, "\\u003c");
  const html =
    `${withLib ? plotlyScript() : ""}<div id="${id}" style="height:${Number(fig.layout?.height ?? 420)}px"></div>` +
    `<script type="text/javascript">(function(){var f=${json};` +
    `if(window.Plotly){window.Plotly.newPlot("${id}",f.data,f.layout,f.config);}` +
    `else{document.getElementById("${id}").innerText="plotly.js not loaded: re-run the first figure of this notebook";}})();</script>`;
  const title = (fig.layout?.title as { text?: string } | string | undefined) ?? "";
  const titleText = typeof title === "string" ? title : title.text ?? "";
  return {
    "application/vnd.plotly.v1+json": { data: fig.data, layout: fig.layout ?? {}, config: fig.config ?? {} },
    "text/html": html,
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
