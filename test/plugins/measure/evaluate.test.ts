import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { evaluateModel } from "../../../plugins/measure/evaluate";
import { assertNoLeak, assertRejectsSlimlab, onBackend } from "./helpers";

/** softmax(x · I): predicts argmax(x). */
function identityClassifier(): tf.Sequential {
  const m = tf.sequential({ name: "ident", layers: [tf.layers.dense({ name: "fc", units: 3, activation: "softmax", inputShape: [3] })] });
  const w = [tf.eye(3), tf.zeros([3])];
  m.layers[0].setWeights(w);
  tf.dispose(w);
  return m;
}

const predicted = [0, 1, 2, 0, 1, 2, 2];
const truth = [0, 1, 2, 1, 1, 0, 2];
const xsOf = () => tf.tidy(() => tf.mul(tf.oneHot(tf.tensor1d(predicted, "int32"), 3), 2));
// softmax([2, 0, 0]) puts e²/(e² + 2) on the argmax: loss log(e² + 2) − 2 when right, log(e² + 2) when wrong.
const expectedLoss = Math.log(Math.E ** 2 + 2) - (5 * 2) / 7;
const expectedConfusion = [
  [1, 0, 1],
  [1, 2, 0],
  [0, 0, 2],
];

describe("measure/evaluate", () => {
  onBackend("cpu");

  it("computes loss, accuracy and the confusion matrix across batches (int labels)", async () => {
    const m = identityClassifier();
    const data = { xs: xsOf(), ys: tf.tensor1d(truth, "int32") };
    const r = await evaluateModel(m, data, { batchSize: 3 });
    assert.deepStrictEqual(r.confusion, expectedConfusion);
    assert.strictEqual(r.examples, 7);
    assert.strictEqual(r.classes, 3);
    assert.strictEqual(r.accuracy, 5 / 7);
    assert.ok(Math.abs(r.loss - expectedLoss) < 1e-5, `${r.loss} vs ${expectedLoss}`);
    assert.strictEqual(r.lossName, "sparseCategoricalCrossentropy");
    assert.deepStrictEqual(r.perClassAccuracy, [0.5, 2 / 3, 1]);
    tf.dispose([data.xs, data.ys]);
    m.dispose();
  });

  it("gives the same with one-hot labels and with a tf.data.Dataset", async () => {
    const m = identityClassifier();
    const xs = xsOf();
    const ys = tf.oneHot(tf.tensor1d(truth, "int32"), 3);
    const onehot = await evaluateModel(m, { xs, ys });
    assert.deepStrictEqual(onehot.confusion, expectedConfusion);
    assert.strictEqual(onehot.lossName, "categoricalCrossentropy");
    assert.ok(Math.abs(onehot.loss - expectedLoss) < 1e-5);
    const rows = tf.unstack(xs);
    const ds = tf.data.zip({ xs: tf.data.array(rows), ys: tf.data.array(truth) }).batch(4) as unknown as tf.data.Dataset<{ xs: tf.Tensor; ys: tf.Tensor }>;
    const fromDs = await evaluateModel(m, ds);
    assert.deepStrictEqual(fromDs.confusion, expectedConfusion);
    assert.ok(Math.abs(fromDs.loss - expectedLoss) < 1e-5);
    tf.dispose([xs, ys, ...rows]);
    m.dispose();
  });

  it("treats one sigmoid unit as two classes split at 0.5", async () => {
    const m = tf.sequential({ name: "bin", layers: [tf.layers.dense({ units: 1, activation: "sigmoid", inputShape: [1], kernelInitializer: "ones", biasInitializer: "zeros" })] });
    const xs = tf.tensor2d([[-2], [3], [1], [-1]]);
    const ys = tf.tensor1d([0, 1, 0, 0]);
    const r = await evaluateModel(m, { xs, ys });
    assert.deepStrictEqual(r.confusion, [[2, 1], [0, 1]]);
    assert.strictEqual(r.accuracy, 0.75);
    const s = (v: number) => 1 / (1 + Math.exp(-v));
    const bce = -(Math.log(1 - s(-2)) + Math.log(s(3)) + Math.log(1 - s(1)) + Math.log(1 - s(-1))) / 4;
    assert.ok(Math.abs(r.loss - bce) < 1e-5, `${r.loss} vs ${bce}`);
    tf.dispose([xs, ys]);
    m.dispose();
  });

  it("draws the confusion matrix as a Plotly heat map", async () => {
    const m = identityClassifier();
    const data = { xs: xsOf(), ys: tf.tensor1d(truth, "int32") };
    const r = await evaluateModel(m, data);
    const bundle = r.toMimeBundle();
    const fig = bundle["application/vnd.plotly.v1+json"] as { data: { type: string; z: number[][] }[] };
    assert.strictEqual(fig.data[0].type, "heatmap");
    assert.deepStrictEqual(fig.data[0].z, expectedConfusion);
    assert.match(String(bundle["text/plain"]), /accuracy 71\.43% on 7 examples/);
    assert.match(String(bundle["text/plain"]), /0\s+1\s+0\s+1\n/);
    tf.dispose([data.xs, data.ys]);
    m.dispose();
  });

  it("rejects data that does not fit, bad labels and non-classifiers in one line", async () => {
    const m = identityClassifier();
    const wide = { xs: tf.zeros([2, 4]), ys: tf.tensor1d([0, 1], "int32") };
    await assertRejectsSlimlab(evaluateModel(m, wide), "E_DATA", 'evaluateModel: data.xs has examples of shape [4] but model "ident" takes [3]');
    const flat = tf.sequential({ name: "img", layers: [tf.layers.flatten({ inputShape: [2, 2, 1] }), tf.layers.dense({ units: 3 })] });
    await assertRejectsSlimlab(evaluateModel(flat, wide, { argName: "--data" }), "E_DATA", 'evaluateModel: --data.xs has examples of shape [4] but model "img" takes [2, 2, 1] (reshape it: xs.reshape([-1, 2, 2, 1]))');
    const bad = { xs: tf.zeros([2, 3]), ys: tf.tensor1d([0, 5], "int32") };
    await assertRejectsSlimlab(evaluateModel(m, bad), "E_DATA", 'evaluateModel: data.ys has label 5 at example 1; allowed: class indices 0..2 for model "ident"');
    const width = { xs: tf.zeros([2, 3]), ys: tf.zeros([2, 4]) };
    await assertRejectsSlimlab(evaluateModel(m, width), "E_DATA", 'evaluateModel: data.ys is one-hot of width 4 but model "ident" has 3 classes');
    await assertRejectsSlimlab(evaluateModel(m, 3 as unknown as tf.Tensor as never), "E_TYPE", /^data got 3, allowed: /);
    await assertRejectsSlimlab(evaluateModel("m" as unknown as tf.LayersModel, wide), "E_TYPE", /^evaluateModel: expected a tf\.LayersModel, received "m"/);
    const x = tf.input({ shape: [2, 2] });
    const seq = tf.model({ inputs: x, outputs: tf.layers.dense({ units: 3 }).apply(x) as tf.SymbolicTensor, name: "seq" });
    await assertRejectsSlimlab(evaluateModel(seq, wide), "E_MODEL", 'evaluateModel: model "seq" has output shape [[null,2,3]]; allowed: one output [N, C] of class scores');
    tf.dispose([wide.xs, wide.ys, bad.xs, bad.ys, width.xs, width.ys]);
    m.dispose();
    flat.dispose();
    seq.dispose();
  });

  it("does not leak tensors", async () => {
    const m = identityClassifier();
    const data = { xs: xsOf(), ys: tf.tensor1d(truth, "int32") };
    await assertNoLeak(() => evaluateModel(m, data, { batchSize: 2 }));
    tf.dispose([data.xs, data.ys]);
    m.dispose();
  });
});
