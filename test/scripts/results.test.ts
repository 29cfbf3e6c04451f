/**
 * Traceable results: recordResults (plugins/toolkit/results.ts) and the
 * README table generated from the committed full-mode files
 * (scripts/results.ts). The last test is the one that keeps README.md and
 * results/*.full.json in agreement.
 */
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { checkRecord, defaultResultsDir, describeRecord, gitState, readRecord, recordResults, renderRow, renderTable, ResultsRecord, RESULTS_SCHEMA } from "../../plugins/toolkit/results";
import { BEGIN, END, expectedTable, fullRecords, notebookNames, notebookShows, sharePlotly, tableIn, withTable, writeHtml } from "../../scripts/results";
import { plotlyBundle } from "../../plugins/core/figure";
import { plotlyLoaderBundle } from "../../plugins/core/plotly-html";
import { spawnSync } from "child_process";

const ROOT = path.resolve(__dirname, "../../..");

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-results-"));
}

/** A made-up full-mode record. */
function record(over: Partial<ResultsRecord> = {}): ResultsRecord {
  return {
    schema: RESULTS_SCHEMA,
    notebook: "07-distillation",
    mode: "full",
    commit: "0123456789abcdef0123456789abcdef01234567",
    dirty: false,
    date: "2025-01-02T03:04:05.000Z",
    wallSeconds: 4216.4,
    node: "v20.0.0",
    backend: "wasm",
    settings: { "training digits": 55000, "student epochs": 10, T: 20 },
    seeds: [1, 2, 3],
    metrics: [
      { key: "teacher", label: "teacher test errors", value: 143, digits: 0 },
      { key: "gapClosed", label: "gap closed", values: [62, 55, 70], unit: "%", digits: 0 },
    ],
    goals: [{ label: "distilled student closes at least half of the gap", metric: "gapClosed", atLeast: 50 }],
    reference: "paper: 67 / 146 / 74 errors (91% closed)",
    ...over,
  };
}

describe("results: recordResults", () => {
  it("writes <dir>/<name>.<mode>.json with the commit, mode, settings, seeds, wall time and date", async () => {
    const dir = tmpDir();
    const started = Date.now() - 1500;
    const r = await recordResults("07-distillation", {
      mode: "quick", started, dir, seeds: [1],
      settings: { "training digits": 1500 },
      metrics: [{ key: "gapClosed", label: "gap closed", values: [40], unit: "%", digits: 0 }],
      goals: [{ label: "half of the gap", metric: "gapClosed", atLeast: 50 }],
    });
    const file = path.join(dir, "07-distillation.quick.json");
    assert.strictEqual(path.resolve(r.file), file);
    const back = readRecord(file);
    assert.deepStrictEqual(back, r.record);
    assert.strictEqual(back.mode, "quick");
    assert.strictEqual(back.commit, "unknown"); // a temporary folder is outside git
    assert.strictEqual(back.dirty, null);
    assert.ok(back.wallSeconds >= 1.5 && back.wallSeconds < 60, `wall ${back.wallSeconds}`);
    assert.ok(Math.abs(Date.parse(back.date) - Date.now()) < 60000);
    assert.deepStrictEqual(back.seeds, [1]);
    assert.match(r.markdown, /quick mode, unknown commit/);
    assert.match(r.markdown, /half of the gap \(≥ 50%\): \*\*inconclusive\*\* \(1 seed/);
    // nothing but the file is left in the folder (no temporaries)
    assert.deepStrictEqual(fs.readdirSync(dir), ["07-distillation.quick.json"]);
  });

  it("replaces its own file, never another file", async () => {
    const dir = tmpDir();
    const input = { mode: "full" as const, started: Date.now(), dir, seeds: [1], settings: {}, metrics: [{ key: "a", label: "a", value: 1 }] };
    await recordResults("x", input);
    await recordResults("x", { ...input, metrics: [{ key: "a", label: "a", value: 2 }] });
    assert.strictEqual(readRecord(path.join(dir, "x.full.json")).metrics[0].value, 2);
    fs.writeFileSync(path.join(dir, "y.full.json"), '{"mine": true}');
    await assert.rejects(recordResults("y", input), (e: Error & { code?: string }) => e.code === "E_FILE");
    assert.strictEqual(fs.readFileSync(path.join(dir, "y.full.json"), "utf8"), '{"mine": true}');
  });

  it("refuses bad names and metrics before writing anything", async () => {
    const dir = tmpDir();
    const base = { started: Date.now(), dir, seeds: [1, 2], settings: {} };
    const bad: [string, object, RegExp][] = [
      ["a/b", { metrics: [{ key: "a", label: "a", value: 1 }] }, /name/],
      ["n.ipynb", { metrics: [{ key: "a", label: "a", value: 1 }] }, /without \.ipynb/],
      ["n", { metrics: [] }, /no metrics/],
      ["n", { metrics: [{ key: "a", label: "a", value: NaN }] }, /not a finite number/],
      ["n", { metrics: [{ key: "a", label: "a", value: 1, values: [1, 2] }] }, /exactly one of value and values/],
      ["n", { metrics: [{ key: "a", label: "a", values: [1] }] }, /1 values for 2 seeds/],
      ["n", { metrics: [{ key: "a", label: "a", value: 1 }, { key: "a", label: "b", value: 2 }] }, /appears twice/],
      ["n", { metrics: [{ key: "a", label: "a", value: 1 }], goals: [{ label: "g", metric: "a", atLeast: 1 }] }, /no per-seed metric/],
      ["n", { metrics: [{ key: "a", label: "a", values: [1, 2] }], goals: [{ label: "g", metric: "a" }] }, /no bound/],
    ];
    for (const [name, extra, why] of bad) {
      await assert.rejects(recordResults(name, { ...base, ...extra } as never), (e: Error & { code?: string }) => e.code === "E_ARG" && why.test(e.message), `${name} ${JSON.stringify(extra)}`);
    }
    await assert.rejects(recordResults("n", { ...base, started: Date.now() + 60000, metrics: [{ key: "a", label: "a", value: 1 }] }), /started/);
    assert.deepStrictEqual(fs.readdirSync(dir), []);
  });

  it("records this checkout's commit", () => {
    const head = execFileSync("git", ["-C", ROOT, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
    const s = gitState(ROOT);
    assert.strictEqual(s.commit, head);
    assert.strictEqual(typeof s.dirty, "boolean");
    assert.deepStrictEqual(gitState(tmpDir()), { commit: "unknown", dirty: null });
  });

  it("writes to the checkout's results/ from inside it, else to ./results, or to SLIMLAB_RESULTS_DIR", () => {
    assert.strictEqual(defaultResultsDir(ROOT, {}), path.join(ROOT, "results"));
    assert.strictEqual(defaultResultsDir(path.join(ROOT, "notebooks"), {}), path.join(ROOT, "results"));
    const elsewhere = tmpDir();
    assert.strictEqual(defaultResultsDir(elsewhere, {}), path.join(elsewhere, "results"));
    assert.strictEqual(defaultResultsDir(elsewhere, { SLIMLAB_RESULTS_DIR: "r" }), path.join(elsewhere, "r"));
  });
});

describe("results: the README table", () => {
  it("a notebook without a full-mode file says so and shows no number", () => {
    const row = renderRow("06-deep-compression", undefined);
    assert.strictEqual(row, "| 06-deep-compression | not yet run in full mode at this commit | | | |");
    assert.doesNotMatch(row.replace("06-deep-compression", ""), /\d/);
  });

  it("renders a full-mode record: commit, date, seeds, settings, spreads and the verdict computed from the values", () => {
    const row = renderRow("07-distillation", record());
    assert.strictEqual(
      row,
      "| 07-distillation (4216 s) | `0123456`, 2025-01-02, seeds 1, 2, 3, wasm | training digits 55000; student epochs 10; T 20 | " +
        "teacher test errors: 143; gap closed: 62% (55–70%, std 8%, 3 seeds); distilled student closes at least half of the gap (≥ 50%): **met** (all 3 seeds meet it, the worst included) | " +
        "paper: 67 / 146 / 74 errors (91% closed) |",
    );
    const straddling = renderRow("07-distillation", record({ metrics: [{ key: "gapClosed", label: "gap closed", values: [62, 45, 70], unit: "%", digits: 0 }] }));
    assert.match(straddling, /\*\*inconclusive\*\* \(2 of 3 seeds meet it/);
    assert.match(renderRow("07-distillation", record({ dirty: true })), /`0123456` \+ uncommitted changes/);
    assert.throws(() => renderRow("06-deep-compression", record()), /record of 07-distillation given for 06-deep-compression/);
    assert.throws(() => renderRow("07-distillation", record({ mode: "quick" })), /quick record/);
  });

  it("escapes pipes and line breaks in cells", () => {
    const row = renderRow("07-distillation", record({ reference: "a | b\nc" }));
    assert.ok(row.endsWith("| a \\| b c |"), row);
  });

  it("one row per notebook, in order; replaced between the markers only", () => {
    const t = renderTable(["a", "b"], new Map([["b", record({ notebook: "b" })]]));
    const lines = t.split("\n");
    assert.strictEqual(lines.length, 4);
    assert.match(lines[2], /^\| a \| not yet run/);
    assert.match(lines[3], /^\| b \(4216 s\)/);
    const readme = `intro\n${BEGIN}\nold\n${END}\nrest\n`;
    const next = withTable(readme, "NEW");
    assert.strictEqual(next, `intro\n${BEGIN}\nNEW\n${END}\nrest\n`);
    assert.strictEqual(tableIn(next), "NEW");
    assert.throws(() => tableIn("no markers"), /markers are missing/);
  });

  it("describeRecord names the commit, mode and seeds", () => {
    const md = describeRecord(checkRecord(record()), "results/07-distillation.full.json");
    assert.match(md, /full mode, commit 0123456789ab, 2025-01-02T03:04:05.000Z, wall time 4216 s, seeds 1, 2, 3\) in `results\/07-distillation.full.json`/);
    assert.match(md, /- gap closed: 62% \(55–70%, std 8%, 3 seeds\)/);
  });

  it("the pages share one plotly.js instead of carrying it in their first figure", () => {
    const lib = "(function (define, exports, module) {\nif (window.Plotly) return;\nvar Plotly=1;\n})(undefined, undefined, undefined);\n";
    const page = `<html><head><title>x</title></head><body><div>a</div><script type="text/javascript">${lib}registerPlotly();</script><div id="p1"></div><script>plot()</script></body></html>`;
    const s = sharePlotly(page);
    assert.strictEqual(s.library, lib);
    assert.ok(!s.html.includes("var Plotly=1"));
    assert.ok(s.html.includes('<script type="text/javascript">registerPlotly();</script>'), "the rest of the loader stays in the page");
    assert.ok(s.html.includes('<script type="text/javascript" src="plotly.min.js"></script>\n</head>'));
    assert.ok(s.html.includes('<div id="p1"></div><script>plot()</script>'));
    assert.deepStrictEqual(sharePlotly("<html><head></head></html>"), { html: "<html><head></head></html>", library: undefined });
  });

  it("an executed notebook is published only when it shows the record's commit and date", () => {
    const dir = tmpDir();
    const r = record();
    fs.writeFileSync(path.join(dir, "a.ipynb"), JSON.stringify({ cells: [{ outputs: [{ text: describeRecord(r) }] }] }));
    fs.writeFileSync(path.join(dir, "b.ipynb"), JSON.stringify({ cells: [{ outputs: [{ text: describeRecord(record({ date: "2025-02-02T00:00:00.000Z" })) }] }] }));
    assert.ok(notebookShows(path.join(dir, "a.ipynb"), r));
    assert.ok(!notebookShows(path.join(dir, "b.ipynb"), r));
  });

  it("--html: nbconvert's page of an executed notebook, with plotly.js moved to one shared file (skipped without jupyter nbconvert)", function () {
    if (spawnSync("jupyter", ["nbconvert", "--version"]).status !== 0) this.skip();
    this.timeout(120000);
    const root = tmpDir();
    const from = path.join(root, "out");
    fs.mkdirSync(from);
    const r = record();
    const fig = plotlyBundle({ data: [{ y: [1, 3, 2] }] });
    const out = (data: object) => ({ output_type: "display_data", data, metadata: {} });
    const nb = {
      nbformat: 4, nbformat_minor: 5, metadata: {},
      cells: [{ cell_type: "code", id: "a", metadata: {}, execution_count: 1, source: ["1"], outputs: [out(plotlyLoaderBundle()), out(fig), out({ "text/markdown": describeRecord(r), "text/plain": describeRecord(r) })] }],
    };
    fs.writeFileSync(path.join(from, "07-distillation.ipynb"), JSON.stringify(nb));
    const logged: string[] = [];
    const failed = writeHtml(root, from, new Map([["07-distillation", r], ["06-deep-compression", record({ notebook: "06-deep-compression" })]]), (s) => logged.push(s));
    assert.strictEqual(failed, 1, logged.join("\n")); // 06 has no executed notebook
    assert.match(logged.join("\n"), /skip 06-deep-compression: no executed notebook/);
    const html = fs.readFileSync(path.join(root, "docs", "results", "07-distillation.html"), "utf8");
    const lib = fs.readFileSync(path.join(root, "docs", "results", "plotly.min.js"), "utf8");
    assert.ok(lib.length > 1e6 && lib.startsWith("(function (define, exports, module) {"), "the shared library");
    assert.ok(html.length < 200000, `page of ${html.length} bytes`);
    assert.ok(html.includes('src="plotly.min.js"') && html.includes("P.newPlot("));
    assert.ok(!html.includes("file:///"), "no local file URLs in a published page");
  });

  it("every notebook records its results under its own name", () => {
    for (const name of notebookNames(ROOT)) {
      const nb = JSON.parse(fs.readFileSync(path.join(ROOT, "notebooks", `${name}.ipynb`), "utf8"));
      const code = nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code").map((c: { source: string[] | string }) => (Array.isArray(c.source) ? c.source.join("") : c.source)).join("\n");
      assert.ok(code.includes(`recordResults("${name}"`), `${name}.ipynb never calls recordResults("${name}", ...)`);
    }
  });

  it("README.md's results table is the one results/*.full.json give (run `npm run results` after adding a file)", () => {
    for (const r of fullRecords(ROOT).values()) checkRecord(r);
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    assert.strictEqual(tableIn(readme), expectedTable(ROOT));
  });
});
