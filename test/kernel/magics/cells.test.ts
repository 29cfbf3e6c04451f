/**
 * Magics in real cells, through CellRunner (type-check, run, outputs): a bad
 * literal stops the whole cell before any line runs, Unicode identifiers,
 * magics inside blocks and arrows, typed -o results, and %time's value.
 *
 * The harness is the one of test/kernel/cell-runner.test.ts: one runner for
 * the file, the process-wide stdout/stderr writers it installs used only
 * while a cell runs, host and runtime slot put back in after().
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { host, Host, setHost } from "../../../plugins/core/host";
import { CellOutcome, CellRunner } from "../../../kernel/cell-runner";
import { registerBuiltins } from "../../../kernel/magics/index";
import { takeWrites, withWrites, Write } from "../../support/capture";

const RUNTIME_SLOT = Symbol.for("slimlab.kernelRuntime");

interface Ran {
  out: CellOutcome;
  stdout: string;
  displays: number;
}

const MODEL = [
  'import * as tf from "@tensorflow/tfjs";',
  "function tiny(): tf.Sequential {",
  "  return tf.sequential({ layers: [",
  '    tf.layers.dense({ units: 6, inputShape: [4], activation: "relu", kernelInitializer: tf.initializers.randomUniform({ seed: 1 }) }),',
  '    tf.layers.dense({ units: 3, activation: "softmax", kernelInitializer: tf.initializers.randomUniform({ seed: 2 }) }),',
  "  ] });",
  "}",
].join("\n");

describe("kernel/magics in cells (CellRunner)", function () {
  this.timeout(60000);
  let tmp: string;
  let runner: CellRunner;
  let prevHost: Host;
  let prevRuntime: unknown;
  let captured: { stdout: Write; stderr: Write };
  let sink = { stdout: "", displays: 0 };

  async function run(code: string): Promise<Ran> {
    sink = { stdout: "", displays: 0 };
    const out = await withWrites(captured, () => runner.run(code));
    return { out, ...sink };
  }

  async function value(code: string): Promise<string | undefined> {
    const r = await run(code);
    assert.ok(r.out.ok, `cell failed: ${JSON.stringify(r.out.error)}`);
    return r.out.result?.["text/plain"] as string | undefined;
  }

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-magic-cells-"));
    prevHost = host();
    prevRuntime = (globalThis as Record<symbol, unknown>)[RUNTIME_SLOT];
    ({ made: runner, writes: captured } = takeWrites(() =>
      new CellRunner(
        tmp,
        {
          stream: (name, text) => void (name === "stdout" && (sink.stdout += text)),
          display: () => void sink.displays++,
        },
        registerBuiltins,
      ),
    ));
    await tf.ready(); // the root beforeEach hook has not run yet; another file may have registered a backend
    await value(`${MODEL}\nconst m = tiny();\nconst 模型 = tiny();\nconst xs = tf.ones([2, 4]);`);
  });

  after(() => {
    runner.close();
    setHost(prevHost);
    (globalThis as Record<symbol, unknown>)[RUNTIME_SLOT] = prevRuntime;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe("a bad literal on line 3 is one UsageError and lines 1-2 do not run", () => {
    const cases: [string, string][] = [
      ["const p = %prune m --sparsity 1.5", '%prune: --sparsity got "1.5"; expected a number >= 0 and < 1'],
      ["const p = %prune m --std-multiplier 0", '%prune: --std-multiplier got "0"; expected a number > 0'],
      ["const q = %quantize m --bits 20", '%quantize: --bits got "20"; expected an integer >= 1 and <= 16'],
      ["const q = %quantize m --percentile 50", '%quantize: --percentile got "50"; expected a number > 50 and <= 100'],
      ["const s = %distill m --data xs --student-width 0.5 --alpha 2", '%distill: --alpha got "2"; expected a number >= 0 and <= 1'],
      ["const s = %distill m --student-width 0.5", "%distill: missing --data"],
      ["if (true) { %bench m --runs 0 }", '%bench: --runs got "0"; expected an integer >= 1'],
      ["const c = %compare m m --warmup -1", '%compare: --warmup got "-1"; expected an integer >= 0'],
      ["const e = %evaluate m", "%evaluate: missing --data"],
      ["const o = %optimize m --batch 0", '%optimize: --batch got "0"; expected an integer >= 1'],
      ["const k = %quantize m --scheme kmeans --bits 12", "%quantize: bits 12 is not allowed for scheme kmeans (2^bits centroids per layer); allowed: an integer from 1 to 8"],
      ["const k = %quantize m --bits 4 --layer-bits fc=1", "%quantize: bits 1 is not allowed for scheme affine"],
      ["const k = %quantize m --qat --epochs 1", "%quantize: --qat needs --data <var>"],
      ["const k = %quantize m --budget 10", "%quantize: --budget 10 only applies with --mixed; add --mixed"],
      ["const p = %prune m --method structured --threshold 0.1", "prune: option threshold applies to method magnitude, not structured"],
      ["const p = %prune m --sparsity 0.5 --schedule iterative", 'prune: schedule "iterative" fine-tunes while pruning and needs data'],
      ["const p = %prune m", "prune: magnitude pruning needs one of sparsity, threshold, stdMultiplier"],
    ];
    for (const [line3, message] of cases) {
      it(line3, async () => {
        await value("let counter = 0;");
        const r = await run(`counter = 1;\nconsole.log("line 2 ran");\n${line3}`);
        assert.equal(r.out.error?.ename, "UsageError");
        assert.ok(r.out.error?.evalue.startsWith(message), r.out.error?.evalue);
        assert.equal(r.stdout, "");
        assert.equal(await value("counter"), "0");
      });
    }

    it("a value given as {expr} is checked by the same declaration when the line runs", async () => {
      await value("let runs = 0;");
      const r = await run("runs = 1;\nconst p = %prune m --sparsity {1.5}");
      assert.deepEqual(r.out.error, {
        ename: "SlimlabError",
        evalue: "%prune: --sparsity got 1.5; expected a number >= 0 and < 1",
        traceback: ["SlimlabError [E_ARG]: %prune: --sparsity got 1.5; expected a number >= 0 and < 1"],
      });
      assert.equal(await value("runs"), "1");
    });
  });

  it("Unicode identifiers as magic arguments: bare, $name and {expr}", async () => {
    assert.equal(await value("const 剪枝 = %prune 模型 --sparsity 0.5\n剪枝 !== 模型 && 剪枝.countParams() === 模型.countParams()"), "true");
    assert.equal(await value("const größe = %size $模型\ngröße.params === 模型.countParams()"), "true");
    assert.equal(await value("const ℓ = %summary {模型}\nℓ.totals.params === 模型.countParams()"), "true");
  });

  it("magics inside blocks, after ; and as an arrow's body", async () => {
    assert.equal(await value("let hits = 0;\nif (hits === 0) { %timeit -q -n 1 -r 1 hits++ }\nhits"), "1");
    assert.equal(await value("let t = 0; t = %time 20 + 1\nt * 2"), "42");
    // A code magic's code runs to the end of the line, `;` included (IPython's %time a; b times both).
    assert.equal(await value("let u = 0; u = %time u = 5; u + 1\nu"), "6");
    const r = await run("const doubled = await Promise.all([1, 2].map((n) => %time n * 2))\ndoubled");
    assert.ok(r.out.ok, JSON.stringify(r.out.error));
    assert.equal(r.out.result?.["text/plain"], "[ 2, 4 ]");
    assert.equal(r.stdout.match(/^Wall time: /gm)?.length, 2);
  });

  it("-o gives the whole result, typed; without it the line is the model", async () => {
    const r = await run("const opt = %optimize m --no-bench -o\n[opt.folded.length, opt.model.layers.length].join()");
    assert.ok(r.out.ok, JSON.stringify(r.out.error));
    assert.equal(r.out.result?.["text/plain"], "'0,2'");
    assert.equal(r.displays, 0, "with -o the result is the report");
    const fast = await run("const fast = %optimize m --no-bench\nfast.predict(xs).toString().length > 0");
    assert.equal(fast.out.result?.["text/plain"], "true");
    assert.equal(fast.displays, 1, "without -o the report is shown");
    const wrong = await run("fast.folded");
    assert.equal(wrong.out.error?.evalue, "line 1, column 6: Property 'folded' does not exist on type 'LayersModel'. (TS2339)");
    assert.equal(await value("const pr = %prune m --sparsity 0.5 -o\nObject.keys(pr.thresholds).length"), "2");
    assert.equal(await value("const qr = %quantize m --bits 8 --quiet -o\n[qr.quantized.size, qr.model !== m, qr.sizes.ratio > 1].join()"), "'2,true,true'");
    assert.equal(await value("const q8 = %quantize m --bits 8 --quiet\nq8.layers.length"), "2");
  });

  it("%compare names its rows after the variables as written; --names and compare() keep their own", async () => {
    // Both models are built by tiny(), so their own names say nothing of which is which.
    const r = await run("const cmp = %compare m 模型 {[m][0]} --runs 1 --warmup 0\ncmp.rows.map((r) => r.name).join()");
    assert.ok(r.out.ok, JSON.stringify(r.out.error));
    assert.equal(r.out.result?.["text/plain"], "'m,模型,[m][0]'");
    const shown = await run("%compare m 模型 --runs 1 --warmup 0");
    const text = String(shown.out.result?.["text/plain"]);
    assert.match(text, /ratios are model \/ m\n/);
    assert.match(text, /^模型 /m);
    assert.equal(await value("const cn = %compare m 模型 --names a,b --runs 1 --warmup 0\ncn.rows.map((r) => r.name).join()"), "'a,b'");
    const plain = 'import { compare } from "slimlab";\nconst cp = await compare([m, 模型], { runs: 1, warmup: 0 });\ncp.rows.map((r) => r.name).join() === [m.name, 模型.name].join()';
    assert.equal(await value(plain), "true");
  });

  it("%time prints the times and gives the expression's value, typed", async () => {
    const r = await run("const v = %time 6 * 7\nv + 1");
    assert.equal(r.out.result?.["text/plain"], "43");
    assert.match(r.stdout, /^CPU times: user .*\nWall time: .*\n$/);
    assert.equal(await value("const w = %time await Promise.resolve('awaited')\nw.toUpperCase()"), "'AWAITED'");
    assert.equal(await value("%time [1, 2, 3].length"), "3");
    const typed = await run("const s: string = %time 6 * 7");
    assert.equal(typed.out.error?.evalue, "line 1, column 7: Type 'number' is not assignable to type 'string'. (TS2322)");
  });
});
