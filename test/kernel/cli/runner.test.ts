/**
 * `slimlab run`: executes notebooks headlessly (in a child process, as
 * users run it) and writes the executed copies. Checks the outputs written,
 * the progress lines, the exit status and message of a failing notebook,
 * that tfjs' node-backend banner stays out of the outputs, and, when
 * Debian's Jupyter is present, that nbformat accepts the written files and
 * that they are signed as trusted.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { duration, runNotebooks, shortName } from "../../../kernel/cli/runner";

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

function slimlab(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [path.join(ROOT, "bin", "slimlab.js"), ...args], { encoding: "utf8", timeout: 120000, env });
}

function slimlabRun(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return slimlab(["run", ...args], env);
}

function hasJupyterTrust(): boolean {
  const r = spawnSync("jupyter", ["trust", "--help"], { encoding: "utf8" });
  return !r.error && r.status === 0;
}

/** Whether Jupyter (with its data dir at `dataDir`) sees `file` as trusted, as classic Notebook checks it. */
function isTrusted(file: string, dataDir: string): boolean {
  const r = spawnSync(JUPYTER_PYTHON, ["-c", "import nbformat,sys; from nbformat.sign import NotebookNotary; print(NotebookNotary().check_signature(nbformat.read(sys.argv[1], as_version=4)))", file], {
    encoding: "utf8",
    env: { ...process.env, JUPYTER_DATA_DIR: dataDir, PYDEVD_DISABLE_FILE_VALIDATION: "1" },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim() === "True";
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
            {
              type: "code",
              // The CPU backend's first write is where tfjs prints its "install the node backend" banner.
              source: 'import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";\nconst cpu = new MathBackendCPU();\ncpu.write(new Float32Array([1]), [1], "float32");\ncpu.dispose();\nconsole.warn("a warning of our own")',
            },
          ]),
        ),
      );
      const r = slimlabRun([file, "--out", path.join(tmp, "out")], { ...process.env, JUPYTER_DATA_DIR: path.join(tmp, "jupyter-data") });
      status = r.status;
      stderr = r.stderr;
      outFile = path.join(tmp, "out", "good.ipynb");
      out = JSON.parse(fs.readFileSync(outFile, "utf8"));
    });

    it("exits 0 and reports the notebook ok, with its time and whether it is trusted", () => {
      assert.equal(status, 0, stderr);
      assert.match(stderr, new RegExp(`^ok {3}${path.join(tmp, "good.ipynb").replace(/[.]/g, "\\.")} \\(\\d+\\.\\d s\\) -> ${outFile.replace(/[.]/g, "\\.")} \\((not )?trusted\\)$`, "m"));
    });

    it("says which cell it is on: one line per non-empty code cell, with the time since the notebook started", () => {
      const progress = stderr.split("\n").filter((l) => l.startsWith("[good]"));
      assert.deepEqual(progress.map((l) => l.replace(/ \(\d+s\)$/, "")), ["[good] cell 1/6", "[good] cell 2/6", "[good] cell 3/6", "[good] cell 5/6", "[good] cell 6/6"]);
      assert.ok(progress.every((l) => /\(\d+s\)$/.test(l)), progress.join("\n"));
      assert.ok(stderr.indexOf("[good] cell 6/6") < stderr.indexOf("ok   "), "progress comes before the result line");
    });

    it("tfjs' node-backend banner is not in the notebook; other warnings are", () => {
      assert.deepEqual(out.cells[6].outputs, [{ output_type: "stream", name: "stderr", text: ["a warning of our own\n"] }]);
    });

    it("signs the executed copy as trusted with `jupyter trust` (needs Debian's jupyter-nbformat)", function () {
      if (!hasJupyterTrust() || !hasNbformat()) {
        this.test!.title += " — SKIPPED: no `jupyter trust` (apt-get install jupyter-nbformat)";
        this.skip();
      }
      assert.match(stderr, / \(trusted\)$/m);
      assert.equal(isTrusted(outFile, path.join(tmp, "jupyter-data")), true);
      assert.equal(isTrusted(outFile, path.join(tmp, "other-jupyter-data")), false, "another user's secret does not trust it");
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
      // No `jupyter` on PATH: the copy cannot be signed, and the run says how to trust it.
      const noJupyter = fs.mkdtempSync(path.join(tmp, "empty-path-"));
      r = slimlabRun([file, "--out", path.join(tmp, "out")], { ...process.env, PATH: noJupyter });
      out = JSON.parse(fs.readFileSync(path.join(tmp, "out", "bad.ipynb"), "utf8"));
    });

    it("exits non-zero and names the notebook and the failing cell; says the copy is not trusted and how to trust it", () => {
      assert.equal(r.status, 1);
      const lines = r.stderr.trim().split("\n");
      assert.match(lines[lines.length - 3], new RegExp(`^FAIL ${file.replace(/[.]/g, "\\.")} \\(\\d+\\.\\d s\\): cell 3 failed: Error: bad cell$`));
      assert.match(lines[lines.length - 2], /executed copy with the error \(not trusted\): .*bad\.ipynb$/);
      assert.equal(
        lines[lines.length - 1],
        `not trusted: no \`jupyter\` command on PATH (apt-get install jupyter-nbformat, or pip install nbformat); classic Notebook hides their charts until you run: jupyter trust ${path.join(tmp, "out", "bad.ipynb")}`,
      );
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

  it("a long cell is reported as still running, every heartbeat", async () => {
    const file = path.join(tmp, "slow-notebook-with-a-long-name.ipynb");
    fs.writeFileSync(file, JSON.stringify(notebook([{ type: "code", source: "await new Promise((r) => setTimeout(r, 2500));" }])));
    const lines: string[] = [];
    const dataDir = process.env.JUPYTER_DATA_DIR;
    process.env.JUPYTER_DATA_DIR = path.join(tmp, "jupyter-data"); // `jupyter trust` signs into the test's own data dir
    try {
      assert.equal(await runNotebooks([file], path.join(tmp, "out"), 120, (s) => lines.push(s), 500), 0);
    } finally {
      if (dataDir === undefined) delete process.env.JUPYTER_DATA_DIR;
      else process.env.JUPYTER_DATA_DIR = dataDir;
    }
    assert.match(lines[0], /^\[slow-notebook-with-a-lo…\] cell 1\/1 \(\d+s\)$/);
    const still = lines.filter((l) => /^\[slow-notebook-with-a-lo…\] cell 1\/1 \(\d+s, still running\)$/.test(l));
    assert.ok(still.length >= 2, lines.join("\n"));
    assert.match(lines[lines.length - 1], /^ok {3}.*slow-notebook-with-a-long-name\.ipynb \(\d+\.\d s\) -> /);
  });

  it("progress helpers: short names and durations", () => {
    assert.equal(shortName("notebooks/02-acceleration-and-quantization-workflow.ipynb"), "02-acceleration-and-qua…");
    assert.equal(shortName("07-distillation.ipynb"), "07-distillation");
    assert.deepEqual([0, 42.4, 59.6, 192, 3600].map(duration), ["0s", "42s", "1m00s", "3m12s", "60m00s"]);
  });

  it("an unknown option of run is a one-line E_ARG message and status 2", () => {
    const r = slimlabRun(["--bogus", path.join(tmp, "nope.ipynb")]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim(), 'slimlab: slimlab run: unknown option "--bogus"; allowed: --out DIR, --timeout SECONDS, --full');
  });

  it("an unknown command says so, prints the usage and exits 2; --help prints the usage and exits 0", () => {
    const r = slimlab(["bogus"]);
    assert.equal(r.status, 2);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines[0], 'slimlab: unknown command "bogus"');
    assert.equal(lines[1], "usage:");
    assert.match(lines[2], /^ {2}slimlab install /);
    const help = slimlab(["--help"]);
    assert.equal(help.status, 0);
    assert.equal(help.stderr.trim().split("\n")[0], "usage:");
  });

  it("a missing notebook is a one-line E_FILE message and status 2", () => {
    const r = slimlabRun([path.join(tmp, "nope.ipynb")]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trim().split("\n").pop(), `slimlab: slimlab run: no such notebook or folder ${JSON.stringify(path.join(tmp, "nope.ipynb"))}`);
  });
});
