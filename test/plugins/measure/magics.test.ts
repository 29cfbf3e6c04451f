import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { Host, MimeBundle, setHost, textHost } from "../../../plugins/core/host";
import { helpText, invokeMagic, usage } from "../../../plugins/core/magic";
import { BenchResult } from "../../../plugins/measure/bench";
import { CompareResult } from "../../../plugins/measure/compare";
import { EvaluationResult } from "../../../plugins/measure/evaluate";
import {
  backendsMagic, benchMagic, compareMagic, evaluateMagic, kernelsMagic, measureMagics, optimizeMagic, sizeMagic, summaryMagic,
} from "../../../plugins/measure/magics";
import { OptimizeResult } from "../../../plugins/measure/optimize";
import { KernelTimes } from "../../../plugins/measure/profile";
import { SizeResult } from "../../../plugins/measure/size";
import { SummaryResult } from "../../../plugins/measure/summary";
import { assertRejectsSlimlab, init, onBackend } from "./helpers";

function tiny(name = "tiny"): tf.Sequential {
  return tf.sequential({
    name,
    layers: [
      tf.layers.dense({ name: "fc", units: 3, inputShape: [4], kernelInitializer: init(1) }),
      tf.layers.batchNormalization({ name: "bn" }),
      tf.layers.activation({ name: "act", activation: "softmax" }),
    ],
  });
}

describe("measure/magics", () => {
  onBackend("cpu");

  it("declares eight magics with usage generated from their flags", () => {
    assert.deepStrictEqual(measureMagics.map((m) => m.name), ["summary", "size", "bench", "kernels", "evaluate", "compare", "backends", "optimize"]);
    assert.strictEqual(usage(kernelsMagic), "%kernels <model> [--batch BATCH] [--runs RUNS]");
    assert.strictEqual(usage(benchMagic), "%bench <model> [--batch BATCH] [--runs RUNS] [--warmup WARMUP]");
    assert.strictEqual(usage(compareMagic), "%compare <models> ... [--data DATA] [--names NAMES] [--runs RUNS] [--warmup WARMUP] [--huffman] [--sparse]");
    assert.match(helpText(optimizeMagic), /--no-bench {2}skip the latency measurement/);
  });

  it("run the same functions and return their typed results", async () => {
    const m = tiny();
    const other = tiny("other");
    assert.ok((await invokeMagic(summaryMagic, [m], {})) instanceof SummaryResult);
    const s = await invokeMagic(sizeMagic, [m], { valueBits: "8" });
    assert.ok(s instanceof SizeResult);
    const b = await invokeMagic(benchMagic, [m], { batch: "1,2", runs: "2", warmup: "0" });
    assert.ok(b instanceof BenchResult);
    assert.deepStrictEqual(b.rows.map((r) => [r.batch, r.runs]), [[1, 2], [2, 2]]);
    const kt = await invokeMagic(kernelsMagic, [m], { batch: "2", runs: "2" });
    assert.ok(kt instanceof KernelTimes);
    assert.deepStrictEqual([kt.batch, kt.runs], [2, 2]);
    const data = { xs: tf.ones([4, 4]), ys: tf.tensor1d([0, 1, 2, 0], "int32") };
    const e = await invokeMagic(evaluateMagic, [m], { data });
    assert.ok(e instanceof EvaluationResult);
    assert.strictEqual(e.examples, 4);
    const c = await invokeMagic(compareMagic, [m, other], { data, names: "a, b", runs: "1", warmup: "0" });
    assert.ok(c instanceof CompareResult);
    assert.deepStrictEqual(c.rows.map((r) => r.name), ["a", "b"]);
    // The arguments as written name the rows; --names wins over them; without either, the models' own names.
    const written = await invokeMagic(compareMagic, [m, other], { runs: 1, warmup: 0 }, { argNames: ["m", "other"] });
    assert.deepStrictEqual(written.rows.map((r) => r.name), ["m", "other"]);
    const renamed = await invokeMagic(compareMagic, [m, other], { names: "x,y", runs: 1, warmup: 0 }, { argNames: ["m", "other"] });
    assert.deepStrictEqual(renamed.rows.map((r) => r.name), ["x", "y"]);
    const plain = await invokeMagic(compareMagic, [m, other], { runs: 1, warmup: 0 });
    assert.deepStrictEqual(plain.rows.map((r) => r.name), [m.name, other.name]);
    await assertRejectsSlimlab(invokeMagic(compareMagic, [m, other], {}, { argNames: ["m"] }), "E_ARG", '%compare: argNames got ["m"]; allowed: one name (or null) per argument, 2 in all');
    const k = await invokeMagic(backendsMagic, [m], { batch: "1", runs: "1", warmup: "0" });
    assert.ok(k.results.length >= 1);
    const o = await invokeMagic(optimizeMagic, [m], { noBench: true, output: true });
    assert.ok(o instanceof OptimizeResult);
    assert.deepStrictEqual([o.folded.length, o.fused.length, o.latency], [1, 0, undefined]);
    tf.dispose([data.xs, data.ys]);
    o.model.dispose();
    m.dispose();
    other.dispose();
  });

  it("%optimize gives the new model and shows what changed; -o gives the OptimizeResult and shows nothing", async () => {
    const m = tiny();
    const shown: MimeBundle[] = [];
    const h: Host = { ...textHost(() => undefined), display: (b) => void shown.push(b) };
    const prev = setHost(h);
    try {
      const fast = await invokeMagic(optimizeMagic, [m], { noBench: true });
      assert.ok(fast instanceof tf.LayersModel && fast !== m);
      assert.deepStrictEqual(fast.layers.map((l) => l.name), ["fc", "act"]);
      assert.strictEqual(shown.length, 1);
      // Softmax is not one of the activations tfjs runs fused into a Dense, so it stays a layer.
      assert.match(String(shown[0]["text/plain"]), /^Optimized "tiny": 2 layers\n {2}folded bn into fc\n {2}left act: tfjs runs softmax after a Dense as separate kernels/);
      const r = await invokeMagic(optimizeMagic, [m], { noBench: true, output: true });
      assert.ok(r instanceof OptimizeResult);
      assert.strictEqual(shown.length, 1, "with -o the result itself is the report");
      fast.dispose();
      r.model.dispose();
    } finally {
      setHost(prev);
      m.dispose();
    }
  });

  it("give one-line errors for bad input", async () => {
    const m = tiny();
    await assertRejectsSlimlab(invokeMagic(benchMagic, [m], { batch: "1,0" }), "E_ARG", "%bench: --batch got \"1,0\"; expected an integer >= 1");
    await assertRejectsSlimlab(invokeMagic(benchMagic, [42], {}), "E_TYPE", /^bench: expected a tf\.LayersModel, received 42; /);
    await assertRejectsSlimlab(invokeMagic(benchMagic, [], {}), "E_MISSING_ARG", /^%bench: missing <model> \(a tf\.LayersModel variable\); usage: %bench <model>/);
    await assertRejectsSlimlab(invokeMagic(evaluateMagic, [m], {}), "E_MISSING_ARG",
      "%evaluate: missing --data ({xs, ys} (ys int [N] or one-hot [N, C]) or a tf.data.Dataset of such batches); add --data <var>, e.g. %evaluate model --data test");
    const wrong = { xs: tf.ones([2, 5]), ys: tf.tensor1d([0, 1], "int32") };
    await assertRejectsSlimlab(invokeMagic(evaluateMagic, [m], { data: wrong }), "E_DATA", 'evaluateModel: --data.xs has examples of shape [5] but model "tiny" takes [4]');
    await assertRejectsSlimlab(invokeMagic(compareMagic, [], {}), "E_MISSING_ARG", "%compare: missing <models>; give one or more models, e.g. %compare model pruned");
    await assertRejectsSlimlab(invokeMagic(sizeMagic, [m], { valueBits: "40" }), "E_ARG", "%size: --value-bits got \"40\"; expected an integer >= 1 and <= 32");
    tf.dispose([wrong.xs, wrong.ys]);
    m.dispose();
  });
});
