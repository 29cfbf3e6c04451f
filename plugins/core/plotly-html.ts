/**
 * Plotly figures as HTML, for the frontends that only run HTML (classic
 * Notebook 6, nbconvert's HTML, JupyterLab without the plotly extension).
 *
 * plotly.js itself travels once per notebook, in an output of its own (the
 * "loader", {@link plotlyLoaderBundle}); which output carries it is the
 * kernel's business (kernel/display/plotly-loader.ts). A figure's HTML only
 * calls `Plotly.newPlot`: at once when plotly.js is there, otherwise it
 * queues itself on `window[QUEUE]`, which the loader drains, so a figure may
 * come before the loader in the document. Where scripts do not run at all
 * (an untrusted notebook) the figure's static text says why.
 */
import * as fs from "fs";
import * as path from "path";
import { randomBytes } from "crypto";
import { SlimlabError } from "./errors";
import { MimeBundle } from "./host";
import { escapeHtml } from "./table";

/** The MIME type of a Plotly figure (plotly's JupyterLab and VS Code renderers). */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/**
 * The plotly.js bundles slimlab can ship, smallest first; the first one
 * installed is used. Every trace type slimlab's figures draw (scatter, bar,
 * histogram, heatmap) is in the cartesian bundle (1.4 MB) but not in the
 * basic one (no histogram, no heatmap); the full bundle (4.6 MB) is the fallback.
 */
export const PLOTLY_PACKAGES = [
  { pkg: "plotly.js-cartesian-dist-min", file: "plotly-cartesian.min.js" },
  { pkg: "plotly.js-dist-min", file: "plotly.min.js" },
] as const;

/** The window property figures queue their draw functions on until plotly.js has loaded. */
export const QUEUE = "slimlabPlotlyQueue";

export interface PlotlyLibrary {
  pkg: string;
  version: string;
  file: string;
}

let library: PlotlyLibrary | undefined;
let loaderHtml: string | undefined;

/** The plotly.js bundle in use: the first of {@link PLOTLY_PACKAGES} that is installed. */
export function plotlyLibrary(): PlotlyLibrary {
  if (library) return library;
  for (const { pkg, file } of PLOTLY_PACKAGES) {
    let manifest: string;
    try {
      manifest = require.resolve(`${pkg}/package.json`);
    } catch {
      continue;
    }
    library = { pkg, version: JSON.parse(fs.readFileSync(manifest, "utf8")).version, file: path.join(path.dirname(manifest), file) };
    return library;
  }
  throw new SlimlabError("E_FILE", `no plotly.js bundle installed (one of ${PLOTLY_PACKAGES.map((p) => p.pkg).join(", ")}): run npm install`);
}

/** True for a bundle that holds a Plotly figure (and so needs plotly.js in HTML frontends). */
export function isFigureBundle(bundle: MimeBundle): boolean {
  return PLOTLY_MIME in bundle;
}

/**
 * The display_data bundle that loads plotly.js: defines `window.Plotly`
 * (hiding require.js's `define`, which classic Notebook and nbconvert pages
 * have, so plotly.js does not register as an anonymous AMD module), registers
 * it as the AMD module "plotly" where require.js is present, and draws the
 * figures that were waiting for it. Running it twice is harmless.
 */
export function plotlyLoaderBundle(): MimeBundle {
  if (!loaderHtml) {
    const lib = plotlyLibrary();
    const src = fs.readFileSync(lib.file, "utf8").replace(/<\/script/gi, "<\\/script");
    loaderHtml =
      `<script type="text/javascript">/* slimlab: ${lib.pkg} ${lib.version}, loaded once for this notebook's figures */\n` +
      `window.PlotlyConfig = window.PlotlyConfig || { MathJaxConfig: "local" };\n` +
      `(function (define, exports, module) {\nif (window.Plotly) return;\n${src}\n})(undefined, undefined, undefined);\n` +
      `(function () {\n` +
      `  var P = window.Plotly;\n` +
      `  if (!P) return;\n` +
      `  if (typeof window.define === "function" && window.define.amd && typeof window.requirejs === "function") {\n` +
      `    try { window.requirejs.undef("plotly"); window.define("plotly", [], function () { return P; }); } catch (e) { /* another plotly module stays */ }\n` +
      `  }\n` +
      `  var waiting = window.${QUEUE};\n` +
      `  window.${QUEUE} = { push: function (draw) { draw(P); } };\n` +
      `  if (waiting && waiting.length) for (var i = 0; i < waiting.length; i++) { try { waiting[i](P); } catch (e) { console.error(e); } }\n` +
      `})();\n</script>`;
  }
  return { "text/html": loaderHtml };
}

/** The notebook's file name when Jupyter told the kernel (jupyter_server sets JPY_SESSION_NAME), else a placeholder. */
function notebookName(env: NodeJS.ProcessEnv = process.env): string {
  const name = env.JPY_SESSION_NAME ? path.basename(env.JPY_SESSION_NAME) : "";
  return name.endsWith(".ipynb") ? name : "NOTEBOOK.ipynb";
}

/** The line a figure shows where its script does not run (scripts are off in untrusted notebooks). */
export function untrustedHint(env: NodeJS.ProcessEnv = process.env): string {
  return `Chart not shown: this notebook is not trusted. Trust it (File → Trust Notebook, or jupyter trust ${notebookName(env)}) and reload.`;
}

const MISSING = "Chart not shown: plotly.js is missing from this notebook's outputs (the cell that carried it was cleared); run the notebook again (Kernel → Restart & Run All).";

/**
 * A figure's HTML fallback: a div with the untrusted hint, and a script that
 * replaces the hint by the chart once plotly.js is there.
 * @param figure data, layout and config as plotly.js takes them
 */
export function figureHtml(figure: { data: unknown[]; layout: Record<string, unknown>; config: Record<string, unknown> }): string {
  const id = `slimlab-plot-${randomBytes(6).toString("hex")}`;
  const height = Number(figure.layout.height ?? 420);
  // "<" escaped: the JSON may not end the script element early.
  const json = JSON.stringify(figure).replace(/</g, "\\u003c");
  return (
    `<div id="${id}" style="height:${Number.isFinite(height) ? height : 420}px"><p style="font-family:sans-serif;color:#777">${escapeHtml(untrustedHint())}</p></div>` +
    `<script type="text/javascript">(function () {\n` +
    `  var el = document.getElementById("${id}");\n` +
    `  if (!el) return;\n` +
    `  var f = ${json};\n` +
    `  var draw = function (P) { el.innerHTML = ""; P.newPlot(el, f.data, f.layout, f.config); };\n` +
    `  if (window.Plotly) { draw(window.Plotly); return; }\n` +
    `  el.firstChild.textContent = "Loading plotly.js…";\n` +
    `  (window.${QUEUE} = window.${QUEUE} || []).push(draw);\n` +
    `  setTimeout(function () { if (!window.Plotly && el.firstChild) el.firstChild.textContent = ${JSON.stringify(MISSING)}; }, 10000);\n` +
    `})();</script>`
  );
}
