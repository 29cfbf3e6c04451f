/**
 * What a tslab user brings runs unchanged:
 *   - tslab's own example notebook getting_started.ipynb (test/fixtures/tslab-examples),
 *     through `slimlab run`, every cell, with the outputs tslab gives;
 *   - every call of tslab's display API, in a cell, sends exactly the
 *     display messages tslab's own implementation sends (compared with
 *     tslab's code run side by side);
 *   - errors.ipynb's type errors are reported at the lines and columns tslab reports.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { host, Host, setHost } from "../../plugins/core/host";
import { CellRunner } from "../../kernel/cell-runner";
import { registerBuiltins } from "../../kernel/magics/index";

const ROOT = path.resolve(__dirname, "../../..");
const FIXTURES = path.join(ROOT, "test", "fixtures", "tslab-examples");
const RUNTIME_SLOT = Symbol.for("slimlab.kernelRuntime");

type Output = Record<string, unknown> & { output_type: string };
interface Cell {
  cell_type: string;
  source: string[];
  outputs: Output[];
  execution_count: number | null;
}

const text = (o: Output) => (Array.isArray(o.text) ? o.text.join("") : String(o.text ?? ""));

describe("tslab compatibility: tslab's notebooks and display API, unchanged", function () {
  this.timeout(120000);
  let tmp: string;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-tslab-compat-"));
    fs.cpSync(FIXTURES, tmp, { recursive: true });
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("getting_started.ipynb runs through `slimlab run`, every cell, with tslab's outputs", () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, "bin", "slimlab.js"), "run", "getting_started.ipynb", "--out", "out"], { cwd: tmp, encoding: "utf8", timeout: 110000 });
    assert.equal(r.status, 0, `slimlab run failed:\n${r.stdout}\n${r.stderr}`);
    const nb = JSON.parse(fs.readFileSync(path.join(tmp, "out", "getting_started.ipynb"), "utf8")) as { cells: Cell[] };
    const code = nb.cells.filter((c) => c.cell_type === "code");
    const source = JSON.parse(fs.readFileSync(path.join(FIXTURES, "getting_started.ipynb"), "utf8")) as { cells: Cell[] };
    assert.deepEqual(
      nb.cells.map((c) => c.source),
      source.cells.map((c) => c.source),
      "the cells ran as published",
    );
    assert.ok(code.every((c) => c.execution_count !== null && !c.outputs.some((o) => o.output_type === "error")), "no cell failed");
    const outputsOf = (start: string) => code.find((c) => c.source.join("").startsWith(start))?.outputs ?? [];

    assert.match(text(outputsOf("import * as tslab")[0]), /^Hello, tslab!\nVersions: \{ tslab: '1\.0\.22', typescript: '[\d.]+', node: 'v[\d.]+' \}\n$/);
    assert.match(text(outputsOf("{\n    // This is 40x")[0]), /^naiveFib\(40\) = 165580141 \(took \d+ms\)\n$/);
    assert.equal(text(outputsOf("interface Hello")[0]), "Hello, tslab!\n");
    // tslab prints a cell's value with console.log; slimlab gives it as the result, a string quoted as in Node's REPL.
    const slept = outputsOf("let sleep")[0];
    assert.equal(slept.output_type, "execute_result");
    assert.match(String((slept.data as Record<string, string>)["text/plain"]), /^'Slept \d+\[ms\]'$/);
    const html = outputsOf("tslab.display.html")[0];
    assert.deepEqual(html.data, { "text/html": 'Hello <span style="color:#007ACC;font-size:x-large"><b>Type</b>Script</span>!' });
    const jpeg = outputsOf("tslab.display.jpeg")[0];
    assert.deepEqual(jpeg.data, { "image/jpeg": fs.readFileSync(path.join(FIXTURES, "images", "nodejs-new-pantone-black.jpg")).toString("base64") });
    const animation = outputsOf("{\n    let display = tslab.newDisplay()");
    assert.equal(animation.length, 1, "one output, updated in place");
    assert.deepEqual(animation[0].data, { "text/plain": "progress: 100%" });
    assert.equal(text(outputsOf("{\n    // class")[0]), "{ abc: 123, klm: 'hello' }\n{ x: 1, y: 2, z: 3 }\narray = [ 0, 4, 16, 36, 64 ]\n");
    assert.equal(text(outputsOf("{\n    // 1. Optional Chaining")[0]), "obj?.x?.z == undefined\nx ?? y ?? z == 0\n");
  });

  describe("in cells (CellRunner)", () => {
    let runner: CellRunner;
    let prevHost: Host;
    let prevRuntime: unknown;
    let sent: { type: string; content: Record<string, unknown> }[] = [];

    before(() => {
      prevHost = host();
      prevRuntime = (globalThis as Record<symbol, unknown>)[RUNTIME_SLOT];
      const orig = { stdout: process.stdout.write, stderr: process.stderr.write };
      runner = new CellRunner(tmp, { stream: () => undefined, display: (type, content) => void sent.push({ type, content }) }, registerBuiltins);
      process.stdout.write = orig.stdout;
      process.stderr.write = orig.stderr;
    });

    after(() => {
      runner.close();
      setHost(prevHost);
      (globalThis as Record<symbol, unknown>)[RUNTIME_SLOT] = prevRuntime;
    });

    /** Display messages as the frontend sees them, with display ids numbered by first appearance. */
    function normalise(msgs: { type: string; content: Record<string, unknown> }[]): unknown[] {
      const ids = new Map<string, string>();
      return msgs.map(({ type, content }) => {
        const c = JSON.parse(JSON.stringify(content)) as { transient?: { display_id?: string } };
        const id = c.transient?.display_id;
        if (id) {
          if (!ids.has(id)) ids.set(id, `id${ids.size}`);
          c.transient = { display_id: ids.get(id) };
        }
        return { type, content: c };
      });
    }

    const CALLS = [
      'tslab.display.html("<b>bold</b>")',
      'tslab.display.markdown("# title")',
      'tslab.display.latex("$e^{i\\\\pi} = -1$")',
      'tslab.display.javascript("console.log(1)")',
      'tslab.display.svg("<svg xmlns=\\"http://www.w3.org/2000/svg\\"/>")',
      "tslab.display.png(new Uint8Array([137, 80, 78, 71]))",
      "tslab.display.jpeg(Buffer.from([255, 216, 255, 217]))",
      "tslab.display.gif(new Uint8Array([71, 73, 70]).subarray(1))",
      "tslab.display.pdf(new Uint8Array([37, 80, 68, 70]))",
      'tslab.display.text("plain")',
      'tslab.display.raw("application/json", "{\\"a\\": 1}")',
      'tslab.display.raw("image/webp", new Uint8Array([1, 2, 3]))',
      "const live = tslab.newDisplay()",
      'live.text("1%")',
      'live.html("<i>50%</i>")',
      "live.png(new Uint8Array([9]))",
    ];

    it("every display call tslab documents sends the messages tslab's own implementation sends", async () => {
      // tslab's code, run with a recorder in place of its Jupyter server.
      const jupyter = require("tslab/dist/jupyter");
      const prev = jupyter.lastWriteDisplayData;
      const expected: { type: string; content: Record<string, unknown> }[] = [];
      jupyter.lastWriteDisplayData = (d: Record<string, unknown>, update: boolean) => expected.push({ type: update ? "update_display_data" : "display_data", content: d });
      try {
        // eslint-disable-next-line @typescript-eslint/no-unused-vars
        const tslab = require("tslab/dist/public");
        eval(CALLS.join(";\n"));
      } finally {
        jupyter.lastWriteDisplayData = prev;
      }
      sent = [];
      const r = await runner.run(['import * as tslab from "tslab";', ...CALLS].join(";\n"));
      assert.ok(r.ok, JSON.stringify(r.error));
      assert.equal(sent.length, CALLS.length - 1);
      assert.deepEqual(normalise(sent), normalise(expected));
    });

    it('require("tslab"), import {display} from "tslab" and tslab.versions work as in tslab', async () => {
      sent = [];
      const r = await runner.run('import { display, versions } from "tslab";\nconst t = require("tslab");\ndisplay.html("<h3>TensorFlow.js versions</h3>");\nt.display.text("via require");\nversions.tslab');
      assert.ok(r.ok, JSON.stringify(r.error));
      assert.deepEqual(
        sent.map((m) => m.content.data),
        [{ "text/html": "<h3>TensorFlow.js versions</h3>" }, { "text/plain": "via require" }],
      );
      assert.equal(r.result?.["text/plain"], "'1.0.22'");
    });

    it("a cell that calls an API tslab does not have fails to type-check, as in tslab", async () => {
      const r = await runner.run('import * as tslab from "tslab";\ntslab.display.nope("x")');
      assert.equal(r.error?.ename, "TypeScriptError");
      assert.match(String(r.error?.evalue), /^line 2, column 15: Property 'nope' does not exist on type 'Display'/);
    });

    it("errors.ipynb: each type error at the line and column tslab gives (1:5, 2:1)", async () => {
      const nb = JSON.parse(fs.readFileSync(path.join(FIXTURES, "errors.ipynb"), "utf8")) as { cells: Cell[] };
      const cells = nb.cells.filter((c) => c.cell_type === "code").map((c) => c.source.join(""));
      const errors = [];
      for (const cell of cells) errors.push((await runner.run(cell)).error?.evalue);
      assert.deepEqual(errors, [
        "line 1, column 5: Type 'string' is not assignable to type 'number'. (TS2322)",
        "line 2, column 1: Type 'string' is not assignable to type 'number'. (TS2322)",
      ]);
    });
  });
});
