/**
 * quantize when something goes wrong after the weights were written (a save
 * that fails, QAT data that does not fit, a calibration set of the wrong
 * shape): `inplace` puts the model back bit for bit with its quantization
 * record, a new model is freed, and no tensor or optimizer variable stays.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import { setHost, textHost } from "../../../plugins/core/host";
import { invokeMagic } from "../../../plugins/core/magic";
import { quantizedWeights } from "../../../plugins/quantize/apply";
import { quantizeMagic } from "../../../plugins/quantize/magics";
import { quantize, QuantizeOptions } from "../../../plugins/quantize/quantize";
import { assertNoLeak } from "../../support/assertions";

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

function mlp(seed = 1): tf.Sequential {
  const m = tf.sequential({
    name: "qmlp",
    layers: [
      tf.layers.dense({ name: "fc1", units: 8, activation: "relu", inputShape: [6], kernelInitializer: init(seed), biasInitializer: "ones" }),
      tf.layers.dense({ name: "out", units: 3, activation: "softmax", kernelInitializer: init(seed + 1) }),
    ],
  });
  // Compiled with Adam, as a trained notebook model is: copies get their own Adam (two variables).
  m.compile({ optimizer: "adam", loss: "categoricalCrossentropy" });
  return m;
}

function bits(m: tf.LayersModel): number[][] {
  return m.getWeights().map((w) => Array.from(new Uint32Array(Float32Array.from(w.dataSync()).buffer)));
}

const variables = () => Object.keys(tf.engine().registeredVariables).length;

describe("quantize failures", () => {
  let dir: string;
  let blocked: string;
  let data: { xs: tf.Tensor; ys: tf.Tensor };
  let bad: { xs5: tf.Tensor; ys4: tf.Tensor };
  before(async () => {
    await tf.setBackend("cpu");
    setHost(textHost(() => undefined));
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "slimlab-qfail-"));
    // A regular file: a save "into" it fails when the directory is created, after quantizing.
    blocked = path.join(dir, "a-file");
    await fs.writeFile(blocked, "x");
    data = tf.tidy(() => ({ xs: tf.randomUniform([24, 6], -1, 1, "float32", 3), ys: tf.oneHot(tf.tensor1d(Array.from({ length: 24 }, (_, i) => i % 3), "int32"), 3).toFloat() }));
    bad = tf.tidy(() => ({ xs5: tf.randomUniform([24, 5]), ys4: tf.oneHot(tf.zeros([24], "int32"), 4).toFloat() }));
  });
  after(async () => {
    tf.dispose([data.xs, data.ys, bad.xs5, bad.ys4]);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("--inplace: a failure (a refused save target, a QAT step that throws after the weights were written) restores them bit for bit, and the quantization record", async () => {
    const m = mlp();
    // An earlier in-place 8-bit quantization: its record must survive the failed 4-bit run.
    await quantize(m, { bits: 8, inplace: true });
    const record = new Map(quantizedWeights(m));
    const before = bits(m);
    // A save target under a regular file is refused by the up-front target check
    // (safe-target.ts) before any weight is written; the injected QAT failures
    // below come after the weights were written.
    const failures: [QuantizeOptions, string, RegExp][] = [
      [{ bits: 4, inplace: true, save: path.join(blocked, "out") }, "E_FILE", /^quantize: cannot access .*ENOTDIR/],
      [{ scheme: "kmeans", bits: 3, inplace: true, save: path.join(blocked, "out") }, "E_FILE", /^quantize: cannot access .*ENOTDIR/],
    ];
    for (const [options, code, message] of failures) {
      const tensors = tf.memory().numTensors;
      await assert.rejects(quantize(m, options), (e: { code?: string; message?: string }) => (e.code ?? "") === code && message.test(e.message ?? ""));
      assert.deepStrictEqual(bits(m), before, `${JSON.stringify(options.scheme ?? "affine")}: weights bit-identical`);
      assert.deepStrictEqual(quantizedWeights(m), record, "the quantization record is the one from before");
      assert.strictEqual(tf.memory().numTensors, tensors, "no tensor left behind");
    }
    // A QAT step (linear, or centroid fine-tuning) that throws after the weights were written.
    for (const options of [{ bits: 4, inplace: true, qat: { data, epochs: 1, batchSize: 8 } }, { scheme: "kmeans", bits: 2, inplace: true, qat: { data, epochs: 1, batchSize: 8 } }] as QuantizeOptions[]) {
      let calls = 0;
      const apply = m.apply;
      m.apply = function (this: tf.LayersModel, ...args: Parameters<tf.LayersModel["apply"]>) {
        if (++calls === 2) throw new Error("injected failure");
        return apply.apply(this, args);
      };
      const tensors = tf.memory().numTensors;
      await assert.rejects(quantize(m, options), /^Error: injected failure$/);
      delete (m as unknown as Record<string, unknown>).apply;
      assert.strictEqual(calls, 2, "the failure came during QAT");
      assert.deepStrictEqual(bits(m), before);
      assert.deepStrictEqual(quantizedWeights(m), record);
      assert.strictEqual(tf.memory().numTensors, tensors, "no tensor left behind (the failed step's tape included)");
    }
    // Data that cannot go through the model is refused before anything is written.
    await assert.rejects(quantize(m, { bits: 4, inplace: true, qat: { data: { xs: data.xs, ys: bad.ys4 }, epochs: 1 } }), {
      code: "E_DATA",
      message: 'quantize: --data.ys has rows of 4 values but model "qmlp" outputs 3; pass one-hot labels of width 3 or class indices',
    });
    assert.deepStrictEqual(bits(m), before);
    m.dispose();
  });

  it("every failure path frees the new model and its optimizer: tensors and variables as before", async () => {
    const m = mlp();
    const cases: [string, () => Promise<unknown>][] = [
      ["save fails", () => quantize(m, { bits: 4, save: path.join(blocked, "out") })],
      ["kmeans save fails", () => quantize(m, { scheme: "kmeans", bits: 3, huffman: true, save: path.join(blocked, "out") })],
      ["calibration inputs of the wrong width", () => quantize(m, { target: "both", calibrate: bad.xs5 })],
      ["QAT labels of the wrong width", () => quantize(m, { bits: 4, qat: { data: { xs: data.xs, ys: bad.ys4 }, epochs: 1 } })],
      ["QAT inputs of the wrong width", () => quantize(m, { bits: 4, qat: { data: { xs: bad.xs5, ys: data.ys }, epochs: 1 } })],
      ["centroid QAT inputs of the wrong width", () => quantize(m, { scheme: "kmeans", bits: 3, qat: { data: { xs: bad.xs5, ys: data.ys }, epochs: 1 } })],
      ["mixed precision data of the wrong width", () => quantize(m, { mixed: { maxDrop: 1, data: { xs: bad.xs5, ys: data.ys } } })],
      ["budget below the smallest size", () => quantize(m, { mixed: { budgetKB: 0.001 } })],
      ["layerBits names a layer not quantized", () => invokeMagic(quantizeMagic, [m], { layerBits: "fc9=4", quiet: true })],
      ["--qat without --epochs", () => invokeMagic(quantizeMagic, [m], { qat: true, data, quiet: true })],
    ];
    for (const [what, run] of cases) {
      const [tensors, vars] = [tf.memory().numTensors, variables()];
      await assert.rejects(run(), (e: unknown) => e instanceof Error, what);
      assert.strictEqual(tf.memory().numTensors, tensors, `${what}: tensors left behind`);
      assert.strictEqual(variables(), vars, `${what}: variables left behind`);
    }
    m.dispose();
  });

  it("a successful run leaves nothing once its model is disposed; repeated runs do not grow", async () => {
    const m = mlp();
    const [tensors, vars] = [tf.memory().numTensors, variables()];
    for (const options of [{ bits: 8 }, { scheme: "kmeans", bits: 3, qat: { data, epochs: 1 } }, { bits: 4, qat: { data, epochs: 1 } }, { bits: 4, mixed: { maxDrop: 5, data } }] as QuantizeOptions[]) {
      const r = await quantize(m, options);
      r.model.dispose();
    }
    assert.strictEqual(variables(), vars, "each copy's Adam is freed with the copy");
    assert.strictEqual(tf.memory().numTensors, tensors);
    await assertNoLeak(async () => (await invokeMagic(quantizeMagic, [m], { bits: 6, target: "both", calibrate: data.xs, quiet: true })).dispose());
    m.dispose();
  });
});
