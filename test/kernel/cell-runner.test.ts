/**
 * CellRunner, driven directly (no ZMQ): results, type and runtime errors
 * with the user's line numbers, typed magic results, usage errors that stop
 * a cell before it runs, %%time, %load_plugin with the example plugin, tfjs
 * values and the one-tfjs-per-process rule, and tensor leaks.
 *
 * One runner serves the whole file: a runner patches process-wide state
 * (stdout, the host, the runtime slot, TypeScript's file system view). The
 * patched stdout/stderr writers are installed only while a cell runs, so
 * mocha's own report is not captured; the host and runtime slot are put
 * back in after().
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { host, Host, setHost } from "../../plugins/core/host";
import { CellOutcome, CellRunner } from "../../kernel/kernel";
import { registerBuiltins } from "../../kernel/magics/index";
import { takeWrites, withWrites, Write } from "../support/capture";

const EXAMPLE_PLUGIN = path.resolve(__dirname, "../../../examples/hello-plugin.js");
const RUNTIME_SLOT = Symbol.for("slimlab.kernelRuntime");

interface Ran {
  out: CellOutcome;
  stdout: string;
  stderr: string;
  displays: { type: string; content: Record<string, unknown> }[];
}


describe("kernel/CellRunner", function () {
  this.timeout(60000);
  let tmp: string;
  let runner: CellRunner;
  let prevHost: Host;
  let prevRuntime: unknown;
  let captured: { stdout: Write; stderr: Write };
  let sink: Omit<Ran, "out">;

  /** Runs one cell with its output captured. */
  async function run(code: string): Promise<Ran> {
    sink = { stdout: "", stderr: "", displays: [] };
    const out = await withWrites(captured, () => runner.run(code));
    return { out, ...sink };
  }

  /** Runs a cell that must succeed; returns its text/plain result. */
  async function value(code: string): Promise<string | undefined> {
    const r = await run(code);
    assert.ok(r.out.ok, `cell failed: ${JSON.stringify(r.out.error)}`);
    return r.out.result?.["text/plain"] as string | undefined;
  }

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "slimlab-cells-"));
    // The notebook folder has its own (fake) tfjs and a package of its own.
    const fake = path.join(tmp, "node_modules", "@tensorflow", "tfjs");
    fs.mkdirSync(fake, { recursive: true });
    fs.writeFileSync(path.join(fake, "package.json"), JSON.stringify({ name: "@tensorflow/tfjs", version: "0.0.1-fake", main: "index.js" }));
    fs.writeFileSync(path.join(fake, "index.js"), "globalThis.__slimlabFakeTfjsLoaded = true;\nexports.marker = 'fake tfjs';\n");
    const local = path.join(tmp, "node_modules", "local-pkg");
    fs.mkdirSync(local, { recursive: true });
    fs.writeFileSync(path.join(local, "package.json"), JSON.stringify({ name: "local-pkg", version: "1.0.0", main: "index.js" }));
    fs.writeFileSync(path.join(local, "index.js"), "exports.where = 'notebook folder';\n");
    fs.writeFileSync(path.join(tmp, "no-magics.js"), "exports.something = 1;\n");

    prevHost = host();
    prevRuntime = (globalThis as Record<symbol, unknown>)[RUNTIME_SLOT];
    ({ made: runner, writes: captured } = takeWrites(() =>
      new CellRunner(
        tmp,
        {
          stream: (name, text) => void (sink[name] += text),
          display: (type, content) => void sink.displays.push({ type, content }),
        },
        registerBuiltins,
      ),
    ));
  });

  after(() => {
    runner.close();
    setHost(prevHost);
    (globalThis as Record<symbol, unknown>)[RUNTIME_SLOT] = prevRuntime;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("gives the last expression's value as text/plain; declarations persist", async () => {
    assert.equal(await value("const a = 1 + 2;\na * 2"), "6");
    assert.equal(await value("a + 10"), "13");
    // Strings show as Node's REPL and IPython show them: quoted (util.inspect).
    assert.equal(await value('"text"'), "'text'");
    assert.equal(await value("'a' + 'b'"), "'ab'");
    assert.equal(await value('"it\'s"'), `"it's"`);
    assert.equal(await value('"two\\nlines"'), "'two\\nlines'");
    assert.equal(await value("[1, 2].map((x) => x * 2)"), "[ 2, 4 ]");
    const r = await run("const noValue = 1;");
    assert.ok(r.out.ok);
    assert.equal(r.out.result, undefined);
  });

  it("captures console output per stream", async () => {
    const r = await run('console.log("hi", 1 + 1); console.error("oops")');
    assert.equal(r.stdout, "hi 2\n");
    assert.equal(r.stderr, "oops\n");
  });

  it("a type error is a TypeScriptError naming line and column", async () => {
    const r = await run("const ok = 1;\nlet x: number = 'str'");
    assert.equal(r.out.ok, false);
    assert.deepEqual(r.out.error, {
      ename: "TypeScriptError",
      evalue: "line 2, column 5: Type 'string' is not assignable to type 'number'. (TS2322)",
      traceback: ["line 2, column 5: Type 'string' is not assignable to type 'number'. (TS2322)"],
    });
  });

  it("type-error columns on line 1 count the user's line, not the expansion's import", async () => {
    const r = await run("let w: number = 's'\n%lsmagic");
    assert.equal(r.out.error?.evalue, "line 1, column 5: Type 'string' is not assignable to type 'number'. (TS2322)");
  });

  it("a runtime error's traceback names the user's cell lines", async () => {
    const r = await run("const before = 1;\nfunction boom() {\n  throw new Error('boom')\n}\nboom()");
    assert.equal(r.out.error?.ename, "Error");
    assert.equal(r.out.error?.evalue, "boom");
    assert.equal(r.out.error?.traceback[0], "Error: boom");
    assert.match(r.out.error?.traceback[1] ?? "", /^ {4}at boom \(cell line 3, column \d+\)$/);
    assert.match(r.out.error?.traceback[2] ?? "", /\(cell line 5, column 1\)$/);
    // Also in a cell a magic line turned into an async function.
    const m = await run("%lsmagic\nconst q = 2\nthrow new TypeError('x')");
    assert.equal(m.out.error?.ename, "TypeError");
    assert.match(m.out.error?.traceback[1] ?? "", /\(cell line 3, column \d+\)$/);
  });

  it("an error inside a %%timeit body names the body's line", async () => {
    const r = await run("%%timeit -n 1 -r 1\nconst z = 1\nthrow new Error('in body') // a comment on the last line");
    assert.equal(r.out.error?.evalue, "in body");
    assert.match(r.out.error?.traceback[1] ?? "", /\(cell line 3, column \d+\)$/);
  });

  it("%timeit -o gives a typed TimeitResult", async () => {
    const r = await run("const t = %timeit -o -n 2 -r 2 1+1\nt.average.toFixed(3)");
    assert.ok(r.out.ok, JSON.stringify(r.out.error));
    assert.match(String(r.out.result?.["text/plain"]), /^'\d+\.\d{3}'$/);
    assert.match(r.stdout, /^\S+ \S+ ± \S+ \S+ per loop \(mean ± std\. dev\. of 2 runs, 2 loops each\)\n$/);
    assert.equal(await value("[t.loops, t.repeat, t.timings.length, t.best <= t.worst].join()"), "'2,2,2,true'");
    const bad = await run("t.nope");
    assert.equal(bad.out.error?.ename, "TypeScriptError");
    assert.equal(bad.out.error?.evalue, "line 1, column 3: Property 'nope' does not exist on type 'TimeitResult'. (TS2339)");
  });

  it("a trailing // comment on a %timeit line is a comment", async () => {
    const r = await run("%timeit -q -n 1 -r 1 1 + 1 // one plus one");
    assert.ok(r.out.ok, JSON.stringify(r.out.error));
    assert.equal(r.stdout, "");
  });

  it("a bad magic line is one UsageError line and the cell does not run", async () => {
    await value("let kept = 1");
    const r = await run('kept = 5\nconsole.log("ran")\n%timeit --bogus 3 x');
    assert.deepEqual(r.out.error, {
      ename: "UsageError",
      evalue: "%timeit: unknown flag --bogus; allowed: --n --r --quiet --output",
      traceback: ["UsageError: %timeit: unknown flag --bogus; allowed: --n --r --quiet --output"],
    });
    assert.equal(r.stdout, "");
    assert.equal(await value("kept"), "1");
  });

  it("a magic's argument error at run time is one SlimlabError line", async () => {
    const r = await run("%timeit -q -n {0} 1");
    assert.deepEqual(r.out.error, {
      ename: "SlimlabError",
      evalue: "%timeit: --n got 0; expected an integer >= 1",
      traceback: ["SlimlabError [E_ARG]: %timeit: --n got 0; expected an integer >= 1"],
    });
  });

  it("%%time prints CPU and wall time and the cell's declarations persist", async () => {
    const r = await run("%%time\nconst tc = 41 + 1;\ntc");
    assert.ok(r.out.ok, JSON.stringify(r.out.error));
    assert.equal(r.out.result?.["text/plain"], "42");
    const num = "\\d+(\\.\\d+)? (s|ms|µs|ns)";
    assert.match(r.stdout, new RegExp(`^CPU times: user ${num}, sys: ${num}, total: ${num}\\nWall time: ${num}\\n$`));
    assert.equal(await value("tc + 1"), "43");
  });

  it("imports the magic runtime only until a cell with the import has run", async () => {
    // Earlier tests ran magics, so the name is in scope: no import, no column shift.
    assert.equal(runner.expand("%lsmagic").firstLineShift, 0);
    assert.ok(!runner.expand("%lsmagic").code.includes("import"));
    assert.equal((await runner.run("%lsmagic")).ok, true);
  });

  it("%name? puts the help in the pager and runs nothing", async () => {
    const r = await run("%timeit?");
    assert.ok(r.out.ok);
    assert.equal(r.out.pages.length, 1);
    assert.ok(r.out.pages[0].startsWith("%timeit <code...> [--n N] [--r R] [--quiet] [--output]\n\nTimes code"), r.out.pages[0]);
  });

  describe("%load_plugin", () => {
    it("loads the example plugin, which registers %hello", async () => {
      assert.equal(await value(`%load_plugin ${EXAMPLE_PLUGIN}`), "loaded %hello");
      assert.equal(runner.registry.get("hello")?.summary, "Greets someone (an example plugin).");
      const list = await value("%lsmagic");
      assert.match(String(list), new RegExp(`%hello +Greets someone \\(an example plugin\\)\\.  \\[${EXAMPLE_PLUGIN.replace(/[.]/g, "\\.")}\\]`));
    });

    it("%hello world --loud returns the greeting", async () => {
      assert.equal(await value("%hello world --loud"), "'HELLO, WORLD!'");
      assert.equal(await value("%hello world -l"), "'HELLO, WORLD!'");
      assert.equal(await value("const greeting = %hello {'you'}\ngreeting.length"), "10");
      assert.equal(await value("greeting"), "'hello, you'");
    });

    it("%hello's help and errors come from its declaration", async () => {
      const help = await run("%hello?");
      assert.ok(help.out.pages[0].startsWith("%hello <who> [--loud]\n\nGreets someone (an example plugin)."), help.out.pages[0]);
      const missing = await run("%hello");
      assert.equal(missing.out.error?.evalue, "%hello: missing <who> (whom to greet); usage: %hello <who> [--loud]");
      const flag = await run("%hello world --lod");
      assert.equal(flag.out.error?.evalue, "%hello: unknown flag --lod (did you mean --loud?); allowed: --loud");
    });

    it("a file exporting no magics is E_PLUGIN", async () => {
      const r = await run("%load_plugin no-magics.js");
      assert.deepEqual(r.out.error, {
        ename: "SlimlabError",
        evalue: "%load_plugin: no-magics.js exports no `magics` array; export const magics = [defineMagic({...})]",
        traceback: ["SlimlabError [E_PLUGIN]: %load_plugin: no-magics.js exports no `magics` array; export const magics = [defineMagic({...})]"],
      });
    });

    it("a missing file is E_FILE", async () => {
      const r = await run("%load_plugin ./nope.js");
      assert.equal(r.out.error?.traceback[0], `SlimlabError [E_FILE]: %load_plugin: no file ${JSON.stringify(path.join(tmp, "nope.js"))}; give the path of a .js or .ts module exporting \`magics\``);
    });
  });

  describe("tfjs", () => {
    it("a tensor prints as tfjs's toString", async () => {
      const expected = tf.tidy(() => tf.tensor2d([[1, 2.5], [3, 4]]).toString());
      assert.equal(await value('import * as tf from "@tensorflow/tfjs";\nconst shown = tf.tensor2d([[1, 2.5], [3, 4]]);\nshown'), expected);
      assert.equal(await value("shown.dispose();\nshown"), "Tensor (disposed) shape=[2,2] dtype=float32");
    });

    it("a cell's tfjs is the kernel's, even with a tfjs in the notebook's node_modules", async () => {
      const g = globalThis as Record<string, unknown>;
      delete g.__slimlabCellEngine;
      const r = await value(
        'import * as tfc from "@tensorflow/tfjs";\n(globalThis as any).__slimlabCellEngine = tfc.engine();\n(tfc as any).marker === undefined && typeof tfc.tensor === "function"',
      );
      assert.equal(r, "true");
      assert.ok(g.__slimlabCellEngine === tf.engine(), "the cell's tf.engine() is the kernel's");
      assert.equal(g.__slimlabFakeTfjsLoaded, undefined, "the notebook folder's tfjs was never loaded");
      delete g.__slimlabCellEngine;
    });

    it("other packages come from the notebook's folder", async () => {
      assert.equal(await value('const localPkg = require("local-pkg");\nlocalPkg.where'), "'notebook folder'");
    });

    it("a shorthand property may name an earlier cell's variable (tslab emits it unresolved)", async () => {
      await value("const earlier = 41;");
      assert.equal(await value("const withShorthand = { earlier };\nwithShorthand.earlier + 1"), "42");
      assert.equal(await value("const { earlier: renamed } = { earlier };\nrenamed"), "41");
    });

    it("require.resolve in a cell follows the same rules as require", async () => {
      const own = require.resolve("@tensorflow/tfjs");
      assert.equal(await value('require.resolve("@tensorflow/tfjs")'), `'${own}'`);
      assert.match((await value('require.resolve("local-pkg")')) ?? "", /node_modules\/local-pkg\/index\.js'$/);
      assert.equal(await value('require.resolve("fs")'), "'fs'");
    });

    it("leaks no tensors over 20 runs of a tidy cell", async () => {
      const cell = 'import * as tf from "@tensorflow/tfjs";\ntf.tidy(() => tf.ones([8, 8]).matMul(tf.ones([8, 8])).sum().dataSync()[0])';
      assert.equal(await value(cell), "512");
      const before = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) assert.equal(await value(cell), "512");
      assert.equal(tf.memory().numTensors, before);
    });
  });

  describe("interrupt", () => {
    it("a loop checking interrupted() stops at its next step, and the cell ends with KeyboardInterrupt", async () => {
      const cell = run('import { interrupted } from "slimlab";\nlet ticks = 0;\nwhile (!interrupted()) { await new Promise((r) => setTimeout(r, 5)); ticks++; }\nticks > 0');
      setTimeout(() => runner.interrupt(), 100);
      const r = await cell;
      assert.equal(r.out.error?.ename, "KeyboardInterrupt");
      const ticks = await value("ticks");
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(await value("ticks"), ticks, "the loop stopped");
    });

    it("the next cell is not hit by the interrupt's grace timer", async () => {
      // The interrupt above gave its cell 1.5 s before abandoning its await;
      // that cell ended at once, so this one must run to its end.
      const r = await run("await new Promise((r) => setTimeout(r, 1700));\n'finished'");
      assert.ok(r.out.ok, JSON.stringify(r.out.error));
      assert.equal(r.out.result?.["text/plain"], "'finished'");
    });

    it("an abandoned await is a KeyboardInterrupt and variables keep their values", async () => {
      await value("let progressMade = 1");
      const cell = run("progressMade = 2;\nawait new Promise((r) => setTimeout(r, 60000).unref());\nprogressMade = 3;");
      setTimeout(() => runner.interrupt(), 50);
      const t0 = Date.now();
      const r = await cell;
      assert.ok(Date.now() - t0 < 5000, "interrupted promptly");
      assert.deepEqual(r.out.error, {
        ename: "KeyboardInterrupt",
        evalue: "interrupted by the user; variables keep the values they had",
        traceback: ["KeyboardInterrupt: interrupted by the user; variables keep the values they had"],
      });
      assert.equal(await value("progressMade"), "2");
    });
  });
});
