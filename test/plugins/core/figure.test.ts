/**
 * Figures as MIME bundles and their HTML: the figure's HTML carries no
 * plotly.js (the loader does, once), draws at once when plotly.js is there
 * and waits for the loader otherwise, shows the untrusted hint as static
 * text; and the plotly.js bundle slimlab ships has every trace type that
 * slimlab's figures and notebooks draw.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as vm from "vm";
import { Figure, plotlyBundle } from "../../../plugins/core/figure";
import { figureHtml, plotlyLibrary, plotlyLoaderBundle, PLOTLY_MIME, PLOTLY_PACKAGES, QUEUE, untrustedHint } from "../../../plugins/core/plotly-html";

const ROOT = path.resolve(__dirname, "../../../..");

/** The script elements' bodies in an HTML string. */
function scripts(html: string): string[] {
  return [...html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)].map((m) => m[1]);
}

/** A page with one element per id and a stand-in Plotly that records its calls. */
function page(ids: string[]) {
  const calls: { el: unknown; data: unknown }[] = [];
  const els = new Map(ids.map((id) => [id, { id, innerHTML: "hint", firstChild: { textContent: "hint" } }]));
  const window: Record<string, unknown> = {};
  const ctx = vm.createContext({ window, document: { getElementById: (id: string) => els.get(id) ?? null }, setTimeout: () => 0, console });
  window.self = window;
  // JSON: the data comes from the page's realm, whose objects deepEqual would not match.
  const fakePlotly = { newPlot: (el: unknown, data: unknown) => calls.push({ el, data: JSON.parse(JSON.stringify(data)) }) };
  return { calls, els, window, run: (js: string) => vm.runInContext(js, ctx), fakePlotly };
}

function idOf(html: string): string {
  return /<div id="(slimlab-plot-[0-9a-f]+)"/.exec(html)?.[1] ?? "";
}

describe("plugins/core/figure and plotly-html", () => {
  it("a figure bundle: the plotly MIME type, an HTML fallback without plotly.js, a text summary", () => {
    const b = plotlyBundle({ data: [{ y: [1, 2] }, { y: [2, 1] }], layout: { title: { text: "loss" }, height: 300 } });
    assert.deepEqual(Object.keys(b), [PLOTLY_MIME, "text/html", "text/plain"]);
    assert.deepEqual(b[PLOTLY_MIME], { data: [{ y: [1, 2] }, { y: [2, 1] }], layout: { title: { text: "loss" }, height: 300 }, config: {} });
    assert.equal(b["text/plain"], "Figure: loss (2 traces)");
    const html = String(b["text/html"]);
    assert.ok(html.length < 3000, `the fallback is ${html.length} characters`);
    assert.match(html, /height:300px/);
    assert.equal(new Figure([{ y: [1] }]).toMimeBundle()["text/plain"], "Figure: (untitled) (1 trace)");
  });

  it("each figure gets its own element id", () => {
    const ids = new Set(Array.from({ length: 50 }, () => idOf(String(plotlyBundle({ data: [] })["text/html"]))));
    assert.equal(ids.size, 50);
  });

  it("a trace name holding </script> cannot end the figure's script early", () => {
    const html = String(plotlyBundle({ data: [{ y: [1], name: "</script><b>x" }] })["text/html"]);
    assert.equal(html.match(/<\/script>/g)?.length, 1);
    assert.equal(scripts(html).length, 1);
  });

  it("where scripts do not run, the figure's static HTML is the one-line untrusted hint", () => {
    const html = figureHtml({ data: [], layout: {}, config: {} });
    const withoutScripts = html.replace(/<script[\s\S]*?<\/script>/g, "").replace(/<[^>]+>/g, "");
    assert.equal(withoutScripts, untrustedHint());
    assert.ok(!untrustedHint().includes("\n"));
    assert.match(untrustedHint({ JPY_SESSION_NAME: "/home/u/work/07-distillation.ipynb" }), /jupyter trust 07-distillation\.ipynb\)/);
    assert.match(untrustedHint({}), /File → Trust Notebook, or jupyter trust NOTEBOOK\.ipynb\)/);
  });

  it("with plotly.js already loaded, a figure draws at once", () => {
    const html = String(plotlyBundle({ data: [{ y: [4] }] })["text/html"]);
    const p = page([idOf(html)]);
    p.window.Plotly = p.fakePlotly;
    p.run(scripts(html)[0]);
    assert.equal(p.calls.length, 1);
    assert.deepEqual(p.calls[0].data, [{ y: [4] }]);
    assert.equal((p.els.get(idOf(html)) as { innerHTML: string }).innerHTML, "", "the hint is gone");
  });

  it("figures before the loader wait in the queue; the loader draws them, and later figures draw at once", () => {
    const first = String(plotlyBundle({ data: [{ y: [1] }] })["text/html"]);
    const second = String(plotlyBundle({ data: [{ y: [2] }] })["text/html"]);
    const third = String(plotlyBundle({ data: [{ y: [3] }] })["text/html"]);
    const p = page([first, second, third].map(idOf));
    p.run(scripts(first)[0]);
    p.run(scripts(second)[0]);
    assert.equal(p.calls.length, 0);
    assert.equal((p.window[QUEUE] as unknown[]).length, 2);
    assert.equal((p.els.get(idOf(first)) as { firstChild: { textContent: string } }).firstChild.textContent, "Loading plotly.js…");
    // The real loader, with window.Plotly set beforehand so the library itself is skipped.
    p.window.Plotly = p.fakePlotly;
    const loader = String(plotlyLoaderBundle()["text/html"]);
    for (const js of scripts(loader)) p.run(js);
    assert.deepEqual(p.calls.map((c) => c.data), [[{ y: [1] }], [{ y: [2] }]]);
    p.run(scripts(third)[0]);
    assert.deepEqual(p.calls.map((c) => c.data), [[{ y: [1] }], [{ y: [2] }], [{ y: [3] }]]);
  });

  it("the loader carries the installed plotly.js bundle once, as text/html only", () => {
    const lib = plotlyLibrary();
    assert.ok(PLOTLY_PACKAGES.some((p) => p.pkg === lib.pkg));
    const loader = plotlyLoaderBundle();
    assert.deepEqual(Object.keys(loader), ["text/html"]);
    const html = String(loader["text/html"]);
    const src = fs.readFileSync(lib.file, "utf8");
    assert.equal(html.split(src.slice(0, 200)).length - 1, 1, "the library's start appears once");
    assert.ok(html.length < src.length + 2000);
    assert.match(html, new RegExp(`slimlab: ${lib.pkg.replace(/\./g, "\\.")} ${lib.version.replace(/\./g, "\\.")}`));
  });

  it("the plotly.js bundle in use registers every trace type that slimlab's figures and notebooks use", () => {
    const all = fs.readFileSync(require.resolve("plotly.js-dist-min"), "utf8");
    const traceTypes = new Set([...all.matchAll(/moduleType:"trace",name:"(\w+)"/g)].map((m) => m[1]));
    const used = new Set<string>();
    const scan = (dir: string, ext: string) => {
      for (const f of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, f.name);
        if (f.isDirectory()) scan(p, ext);
        else if (f.name.endsWith(ext)) for (const m of fs.readFileSync(p, "utf8").matchAll(/type:\s*\\?"(\w+)\\?"/g)) if (traceTypes.has(m[1])) used.add(m[1]);
      }
    };
    scan(path.join(ROOT, "plugins"), ".ts");
    scan(path.join(ROOT, "notebooks"), ".ipynb");
    assert.ok(used.has("scatter") && used.has("heatmap"), `found ${[...used]}`);
    const bundle = fs.readFileSync(plotlyLibrary().file, "utf8");
    const missing = [...used].filter((t) => !bundle.includes(`moduleType:"trace",name:"${t}"`));
    assert.deepEqual(missing, [], `${plotlyLibrary().pkg} lacks trace types slimlab draws`);
  });
});
