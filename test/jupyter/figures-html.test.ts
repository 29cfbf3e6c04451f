/**
 * Figures render in the HTML of executed notebooks, checked in a real
 * browser: a notebook shaped like 07 (its first figure a live chart updated
 * from a later cell, a second figure, a cell that clears its own output, a
 * figure as a cell's value) and one whose first figure's cell clears the
 * output that carried plotly.js, executed two ways:
 *   - `jupyter nbconvert --to html --execute` with the slimlab kernelspec;
 *   - `slimlab run`, then `jupyter nbconvert --to html`.
 * Headless Chromium loads each page; every figure must be drawn (plotly's
 * SVG), with the titles of the last state of each figure. The executed
 * notebooks must carry plotly.js once, and the kernel must keep tfjs'
 * node-backend banner out of them.
 *
 * Needs Jupyter (jupyter-nbconvert, jupyter-client) and Chromium; without
 * them it is skipped and says what to install, except under CI=true, where
 * it fails instead.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { install } from "../../kernel/cli/install";
import { plotlyLibrary } from "../../plugins/core/plotly-html";

const ROOT = path.resolve(__dirname, "../../..");
const INSTALL = "apt-get install chromium jupyter-nbconvert jupyter-client jupyter-nbformat";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function notebook(cells: string[]): Json {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { language_info: { name: "typescript" } },
    cells: cells.map((source, i) => ({ id: `c${i}`, cell_type: "code", metadata: {}, execution_count: null, outputs: [], source })),
  };
}

const SEVENISH = notebook([
  `import { display, clearOutput, plotlyBundle, Figure } from "slimlab";
import { host } from "slimlab/dist/plugins/core/host";
const curve = (n: number) => ({ data: [{ type: "scatter", mode: "lines", y: Array.from({ length: n }, (_, i) => i * i) }], layout: { title: { text: \`live, \${n} points\` }, height: 300 } });
// As distill() draws its curves: the notebook's first figure is a live display, updated in place.
const live = host().liveDisplay(plotlyBundle(curve(2)));
for (let n = 3; n <= 5; n++) { await new Promise((r) => setTimeout(r, 20)); live.update(plotlyBundle(curve(n))); }`,
  `display.plotly({ data: [{ type: "heatmap", z: [[1, 2], [3, 4]] }], layout: { title: { text: "second figure" }, height: 300 } });`,
  `live.update(plotlyBundle(curve(8)));`,
  `display.plotly({ data: [{ type: "histogram", x: [1, 2, 2, 3] }], layout: { title: { text: "cleared away" }, height: 300 } });
clearOutput({ wait: true });
display.plotly({ data: [{ type: "bar", x: ["a", "b"], y: [2, 3] }], layout: { title: { text: "after clear" }, height: 300 } });`,
  `import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
const cpu = new MathBackendCPU(); // its first write is where tfjs prints its node-backend banner
cpu.write(new Float32Array([1]), [1], "float32");
cpu.dispose();
console.warn("a warning of our own");
new Figure([{ type: "scatter", y: [3, 1, 2] }], { title: { text: "a value" }, height: 300 })`,
]);
const SEVENISH_TITLES = ["live, 8 points", "second figure", "after clear", "a value"];

const CLEARED_FIRST = notebook([
  `import { display, clearOutput } from "slimlab";
display.plotly({ data: [{ y: [1, 2] }], layout: { title: { text: "a" }, height: 250 } });
clearOutput();
display.plotly({ data: [{ y: [2, 1] }], layout: { title: { text: "b" }, height: 250 } });
clearOutput({ wait: true });
display.plotly({ data: [{ y: [2, 2] }], layout: { title: { text: "c" }, height: 250 } });`,
  `display.plotly({ data: [{ type: "bar", y: [1, 3] }], layout: { title: { text: "d" }, height: 250 } });`,
]);
const CLEARED_TITLES = ["c", "d"];

function works(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60000 });
  return !r.error && r.status === 0;
}

function findChromium(): string | undefined {
  return ["chromium", "chromium-browser", "google-chrome"].find((c) => works(c, ["--version"]));
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env, cwd, timeout: 300000 });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}\n${r.error ?? ""}${r.stdout}\n${r.stderr}`);
  return r.stderr;
}

/** The DOM of `file` after headless Chromium ran its scripts (10 s of virtual time). */
function renderedDom(chromium: string, file: string): string {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-chromium-"));
  try {
    const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
    const r = spawnSync(chromium, [...flags, `--user-data-dir=${profile}`, "--virtual-time-budget=10000", "--dump-dom", `file://${file}`], { encoding: "utf8", timeout: 120000, maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, `${chromium}: ${r.error ?? ""}${r.stderr.slice(-2000)}`);
    return r.stdout;
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/** What a reader sees: the DOM without script bodies. */
const visible = (dom: string) => dom.replace(/<script\b[\s\S]*?<\/script>/g, "");
const drawn = (dom: string) => (dom.match(/class="plot-container plotly"/g) ?? []).length;
const titles = (dom: string) => [...dom.matchAll(/class="gtitle"[^>]*>([^<]*)</g)].map((m) => m[1]);
const copiesOfPlotly = (text: string) => text.split(`slimlab: ${plotlyLibrary().pkg} ${plotlyLibrary().version}`).length - 1;

function assertAllDrawn(dom: string, expected: string[], where: string): void {
  assert.deepEqual(titles(dom), expected, `${where}: titles of the drawn figures`);
  assert.equal(drawn(dom), expected.length, `${where}: plot containers`);
  assert.ok(dom.includes('class="main-svg"'), `${where}: no plotly SVG`);
  assert.doesNotMatch(visible(dom), /Chart not shown|Loading plotly\.js/, `${where}: a figure shows its hint`);
}

describe("figures render in executed notebooks' HTML: nbconvert --execute and slimlab run (needs Jupyter and Chromium)", function () {
  this.timeout(600000);
  let chromium: string;
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  const files = { sevenish: "", cleared: "" };

  before(function () {
    const found = findChromium();
    const missing = [
      found ? "" : "chromium",
      works("jupyter", ["nbconvert", "--version"]) ? "" : "jupyter nbconvert",
      works("jupyter", ["kernelspec", "--version"]) ? "" : "jupyter kernelspec",
    ].filter(Boolean);
    if (missing.length > 0) {
      const msg = `missing ${missing.join(", ")} (${INSTALL})`;
      if (process.env.CI === "true") throw new Error(`CI needs this test: ${msg}`);
      // Each skipped test says why (mocha prints a suite's title before its hooks run).
      const mark = (suite: Mocha.Suite): void => {
        suite.tests.forEach((t) => (t.title += ` — SKIPPED: ${msg}`));
        suite.suites.forEach(mark);
      };
      mark(this.test!.parent!);
      this.skip();
    }
    chromium = found as string;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-figures-"));
    const prefix = path.join(tmp, "prefix");
    install({ kind: "prefix", prefix });
    // The kernelspec from this checkout, and a Jupyter data dir of the test's own (trust signatures).
    env = { ...process.env, JUPYTER_PATH: path.join(prefix, "share", "jupyter"), JUPYTER_DATA_DIR: path.join(tmp, "jupyter-data"), PYDEVD_DISABLE_FILE_VALIDATION: "1" };
    files.sevenish = path.join(tmp, "sevenish.ipynb");
    files.cleared = path.join(tmp, "cleared-first.ipynb");
    fs.writeFileSync(files.sevenish, JSON.stringify(SEVENISH));
    fs.writeFileSync(files.cleared, JSON.stringify(CLEARED_FIRST));
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe("jupyter nbconvert --to html --execute --ExecutePreprocessor.kernel_name=slimlab", () => {
    const html = { sevenish: "", cleared: "" };

    before(() => {
      const out = path.join(tmp, "nbconvert");
      run("jupyter", ["nbconvert", "--to", "html", "--execute", "--ExecutePreprocessor.kernel_name=slimlab", "--ExecutePreprocessor.timeout=300", "--output-dir", out, files.sevenish, files.cleared], env, tmp);
      html.sevenish = path.join(out, "sevenish.html");
      html.cleared = path.join(out, "cleared-first.html");
    });

    it("draws every figure of the 07-like notebook: the live first one in its last state, the second, the one after a clear, a cell's value", () => {
      assertAllDrawn(renderedDom(chromium, html.sevenish), SEVENISH_TITLES, "nbconvert sevenish.html");
    });

    it("draws the figures when the first figure's cell cleared the output that carried plotly.js", () => {
      assertAllDrawn(renderedDom(chromium, html.cleared), CLEARED_TITLES, "nbconvert cleared-first.html");
    });

    it("the page carries plotly.js once; the kernel kept tfjs' node-backend banner out and other warnings in", () => {
      const text = fs.readFileSync(html.sevenish, "utf8");
      assert.equal(copiesOfPlotly(text), 1);
      assert.equal(copiesOfPlotly(fs.readFileSync(html.cleared, "utf8")), 1);
      assert.ok(!text.includes("looks like you are running TensorFlow.js"), "the banner is in the page");
      assert.ok(text.includes("a warning of our own"));
    });
  });

  describe("slimlab run, then jupyter nbconvert --to html", () => {
    const html = { sevenish: "", cleared: "" };
    const executed = { sevenish: "", cleared: "" };

    before(() => {
      const out = path.join(tmp, "run");
      run(process.execPath, [path.join(ROOT, "bin", "slimlab.js"), "run", files.sevenish, files.cleared, "--out", out], env, tmp);
      executed.sevenish = path.join(out, "sevenish.ipynb");
      executed.cleared = path.join(out, "cleared-first.ipynb");
      run("jupyter", ["nbconvert", "--to", "html", "--output-dir", path.join(tmp, "run-html"), executed.sevenish, executed.cleared], env, tmp);
      html.sevenish = path.join(tmp, "run-html", "sevenish.html");
      html.cleared = path.join(tmp, "run-html", "cleared-first.html");
    });

    it("draws every figure of the 07-like notebook", () => {
      assertAllDrawn(renderedDom(chromium, html.sevenish), SEVENISH_TITLES, "slimlab run sevenish.html");
    });

    it("draws the figures when the first figure's cell cleared the output that carried plotly.js", () => {
      assertAllDrawn(renderedDom(chromium, html.cleared), CLEARED_TITLES, "slimlab run cleared-first.html");
    });

    it("each executed notebook holds plotly.js once, in an output of its own, and is not much bigger than the library", () => {
      const lib = fs.statSync(plotlyLibrary().file).size;
      for (const file of [executed.sevenish, executed.cleared]) {
        const text = fs.readFileSync(file, "utf8");
        assert.equal(copiesOfPlotly(text), 1, file);
        const size = fs.statSync(file).size;
        // One copy (JSON-escaped, so a little bigger than the file), not one per figure.
        assert.ok(size < lib * 1.1 + 50_000, `${path.basename(file)} is ${size} bytes; plotly.js is ${lib}`);
        const nb = JSON.parse(text);
        const loaders = nb.cells.flatMap((c: Json) => c.outputs).filter((o: Json) => copiesOfPlotly(String(o.data?.["text/html"] ?? "")) === 1);
        assert.equal(loaders.length, 1);
        assert.deepEqual(Object.keys(loaders[0].data), ["text/html"]);
      }
    });

    it("where scripts do not run (an untrusted notebook), each figure shows the one-line hint instead", () => {
      const page = fs.readFileSync(html.sevenish, "utf8").replace(/<script\b[\s\S]*?<\/script>/g, "");
      const stripped = path.join(tmp, "run-html", "no-scripts.html");
      fs.writeFileSync(stripped, page);
      const dom = renderedDom(chromium, stripped);
      const hints = visible(dom).match(/Chart not shown: this notebook is not trusted\. Trust it \(File → Trust Notebook, or jupyter trust sevenish\.ipynb\) and reload\./g) ?? [];
      assert.equal(hints.length, SEVENISH_TITLES.length);
      assert.equal(drawn(dom), 0);
    });
  });
});
