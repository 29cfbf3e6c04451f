/**
 * `slimlab run`: executes notebooks headlessly (in a child process, as
 * users run it) and writes the executed copies. Checks the outputs written,
 * the exit status and message of a failing notebook, and, when Debian's
 * Jupyter Python is present, that nbformat accepts the written files.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "../../../..");
const JUPYTER_PYTHON = "/usr/bin/python3";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function notebook(cells: { type: "code" | "markdown"; source: string }[]): Json {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { language_info: { name: "typescript" } },
    cells: cells.map((c, i) =>
      c.type === "code"
        ? { id: `c${i}`, cell_type: "code", metadata: {}, execution_count: null, outputs: [], source: c.source.split(/(?<=\n)/) }
        : { id: `c${i}`, cell_type: "markdown", metadata: {}, source: c.source },
    ),
  };
}

function slimlabRun(args: string[]) {
  return spawnSync(process.execPath, [path.join(ROOT, "bin", "slimlab.js"), "run", ...args], { encoding: "utf8", timeout: 120000 });
}

function hasNbformat(): boolean {
  const r = spawnSync(JUPYTER_PYTHON, ["-c", "import nbformat"], { encoding: "utf8" });
  return !r.error && r.status === 0;
}

/** Validates `file` against the nbformat 4 schema with Jupyter's own nbformat; returns the error text or "". */
function nbformatErrors(file: string): string {
  const r = spawnSync(JUPYTER_PYTHON, ["-c", "import nbformat,sys; nbformat.validate(nbformat.read(sys.argv[1], as_version=4))", file], {
    encoding: "utf8",
    env: { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" },
  });
  return r.status === 0 ? "" : `${r.stdout}\n${r.stderr}`;
}

describe("kernel/cli/runner (slimlab run)", function () {
  this.timeout(120000);
  let tmp: string;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-run-"));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe("a notebook that runs", () => {
    let out: Json;
    let outFile: string;
    let status: number | null;
    let stderr: string;

    before(() => {
      const file = path.join(tmp, "good.ipynb");
      fs.writeFileSync(
        file,
        JSON.stringify(
          notebook([
            { type: "markdown", source: "# A title" },
            { type: "code", source: 'console.log("printed");\nconsole.log("twice")' },
            { type: "code", source: 'import { display } from "slimlab";\ndisplay.markdown("**shown**")' },
            { type: "code", source: "const v = 40 + 2;\nv" },
            { type: "code", source: "" },
            { type: "code", source: "%timeit?" },
          ]),
        ),
      );
      const r = slimlabRun([file, "--out", path.join(tmp, "out")]);
      status = r.status;
      stderr = r.stderr;
      outFile = path.join(tmp, "out", "good.ipynb");
      out = JSON.parse(fs.readFileSync(outFile, "utf8"));
    });

    it("exits 0 and reports the notebook ok", () => {
      assert.equal(status, 0, stderr);
      assert.match(stderr, new RegExp(`^ok {3}${path.join(tmp, "good.ipynb").replace(/[.]/g, "\\.")} \\(\\d+\\.\\d s\\) -> ${outFile.replace(/[.]/g, "\\.")}$`, "m"));
    });

    it("a print is one stdout stream output, in nbformat's list-of-lines form", () => {
      assert.deepEqual(out.cells[1].outputs, [{ output_type: "stream", name: "stdout", text: ["printed\n", "twice\n"] }]);
      assert.equal(out.cells[1].execution_count, 1);
    });

    it("a display is display_data with its MIME bundle", () => {
      assert.deepEqual(out.cells[2].outputs, [{ output_type: "display_data", data: { "text/markdown": "**shown**", "text/plain": "**shown**" }, metadata: {} }]);
    });

    it("a last value is an execute_result with the cell's execution count", () => {
      assert.deepEqual(out.cells[3].outputs, [{ output_type: "execute_result", execution_count: 3, data: { "text/plain": "42" }, metadata: {} }]);
      assert.equal(out.cells[3].execution_count, 3);
    });

    it("an empty cell gets a count and no outputs; markdown cells are left alone; help goes to a display", () => {
      assert.deepEqual(out.cells[4].outputs, []);
      assert.deepEqual(out.cells[0], { id: "c0", cell_type: "markdown", metadata: {}, source: "# A title" });
      const help = out.cells[5].outputs;
      assert.equal(help.length, 1);
      assert.equal(help[0].output_type, "display_data");
      assert.match(help[0].data["text/plain"], /^%timeit <code\.\.\.>/);
    });

    it("records the slimlab kernelspec in the metadata", () => {
      assert.deepEqual(out.metadata.kernelspec, { name: "slimlab", display_name: "TypeScript (slimlab)", language: "typescript" });
    });

    it("nbformat validates the written notebook (needs Jupyter's python3)", function () {
      if (!hasNbformat()) {
        this.test!.title += ` — SKIPPED: no nbformat in ${JUPYTER_PYTHON} (apt-get install python3-nbformat)`;
        this.skip();
      }
      assert.equal(nbformatErrors(outFile), "");
    });
  });

  describe("a notebook with a failing cell", () => {
    let r: ReturnType<typeof slimlabRun>;
    let out: Json;
    let file: string;

    before(() => {
      file = path.join(tmp, "bad.ipynb");
      fs.writeFileSync(
        file,
        JSON.stringify(
          notebook([
            { type: "markdown", source: "intro" },
            { type: "code", source: "const a = 1;\na" },
            { type: "code", source: 'const b = 2;\nthrow new Error("bad cell")' },
            { type: "code", source: 'console.log("never")' },
          ]),
        ),
      );
      r = slimlabRun([file, "--out", path.join(tmp, "out")]);
      out = JSON.parse(fs.readFileSync(path.join(tmp, "out", "bad.ipynb"), "utf8"));
    });

    it("exits non-zero and names the notebook and the failing cell", () => {
      assert.equal(r.status, 1);
      const lines = r.stderr.trim().split("\n");
      assert.match(lines[lines.length - 2], new RegExp(`^FAIL ${file.replace(/[.]/g, "\\.")} \\(\\d+\\.\\d s\\): cell 3 failed: Error: bad cell$`));
      assert.match(lines[lines.length - 1], /executed copy with the error: .*bad\.ipynb$/);
    });

    it("writes the executed copy: the error output, and the cells after it not run", () => {
      assert.deepEqual(out.cells[1].outputs, [{ output_type: "execute_result", execution_count: 1, data: { "text/plain": "1" }, metadata: {} }]);
      const [err] = out.cells[2].outputs;
      assert.equal(out.cells[2].outputs.length, 1);
      assert.equal(err.output_type, "error");
      assert.equal(err.ename, "Error");
      assert.equal(err.evalue, "bad cell");
      assert.equal(err.traceback[0], "Error: bad cell");
      assert.match(err.traceback[1], /\(cell line 2, column \d+\)$/);
      assert.deepEqual(out.cells[3].outputs, []);
      assert.equal(out.cells[3].execution_count, null);
    });

    it("nbformat validates the copy with the error (needs Jupyter's python3)", function () {
      if (!hasNbformat()) {
        this.test!.title += ` — SKIPPED: no nbformat in ${JUPYTER_PYTHON}`;
        this.skip();
      }
      assert.equal(nbformatErrors(path.join(tmp, "out", "bad.ipynb")), "");
    });
  });

  it("a missing notebook is a one-line E_FILE message and status 2", () => {
    const r = slimlabRun([path.join(tmp, "nope.ipynb")]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split("\n").pop(), `slimlab: slimlab run: no such notebook or folder ${JSON.stringify(path.join(tmp, "nope.ipynb"))}`);
  });
});
