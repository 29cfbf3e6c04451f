import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { setHost, textHost } from "../../../plugins/core/host";
import { loadMnist } from "../../../plugins/data/mnist";
import { quantize } from "../../../plugins/quantize/quantize";
import { evaluate, train } from "../../../plugins/toolkit/train";

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

function smallMlp(): tf.Sequential {
  return tf.sequential({
    name: "qmlp",
    layers: [
      tf.layers.dense({ name: "fc1", units: 32, activation: "relu", inputShape: [784], kernelInitializer: init(1) }),
      tf.layers.dense({ name: "fc2", units: 10, activation: "softmax", kernelInitializer: init(2) }),
    ],
  });
}

describe("quantize QAT and mixed precision (MNIST subset)", function () {
  this.timeout(120000);
  let trainSet: { xs: tf.Tensor; ys: tf.Tensor };
  let testSet: { xs: tf.Tensor; ys: tf.Tensor };
  let model: tf.Sequential;

  before(async () => {
    await tf.setBackend("cpu");
    setHost(textHost(() => undefined));
    trainSet = loadMnist({ split: "train", subset: 3000, shuffle: true, seed: 1, shape: "flat" });
    testSet = loadMnist({ split: "test", subset: 1000, shuffle: true, seed: 2, shape: "flat" });
    model = smallMlp();
    await train(model, trainSet, { epochs: 3, batchSize: 64, seed: 1, lr: 3e-3, progress: false });
  });

  after(() => {
    tf.dispose([trainSet.xs, trainSet.ys, testSet.xs, testSet.ys]);
    model.dispose();
  });

  it("4-bit QAT narrows the accuracy gap of 4-bit PTQ", async () => {
    const float = (await evaluate(model, testSet)).accuracy;
    const ptq = await quantize(model, { scheme: "symmetric", bits: 4 });
    const ptqAcc = (await evaluate(ptq.model, testSet)).accuracy;
    const qat = await quantize(model, { scheme: "symmetric", bits: 4, qat: { data: trainSet, epochs: 1, lr: 1e-3, seed: 1 } });
    const qatAcc = (await evaluate(qat.model, testSet)).accuracy;
    // The trained model's weights are on the 4-bit grid (15 symmetric codes).
    for (const row of qat.layers) assert.ok(row.distinct <= 15, row.weight);
    assert.ok(float - qatAcc < float - ptqAcc, `float ${float} ptq ${ptqAcc} qat ${qatAcc}`);
    console.log(`      float ${float.toFixed(4)}, 4-bit PTQ ${ptqAcc.toFixed(4)}, 4-bit QAT ${qatAcc.toFixed(4)}`);
    ptq.model.dispose();
    qat.model.dispose();
  });

  it("QAT keeps pruned weights at zero when masks are given", async () => {
    const k = model.getLayer("fc1").getWeights()[0];
    const mask = tf.tidy(() => tf.cast(tf.greater(tf.abs(k), 0.05), "float32"));
    const r = await quantize(model, { bits: 4, qat: { data: { xs: tf.slice(trainSet.xs, 0, 256), ys: tf.slice(trainSet.ys, 0, 256) }, epochs: 1, masks: new Map([["fc1/kernel", mask]]) } });
    const w = r.model.getLayer("fc1").getWeights()[0].dataSync();
    const mv = mask.dataSync();
    for (let i = 0; i < w.length; i++) if (mv[i] === 0) assert.strictEqual(w[i], 0);
    mask.dispose();
    r.model.dispose();
  });

  it("mixed --budget: bits per layer within the budget; --max-drop: accuracy within PP", async () => {
    const full = await quantize(model, { bits: 8 });
    const budgetKB = (full.layers.reduce((s, l) => s + l.quantKB, 0)) / 2; // half of int8
    const r = await quantize(model, { bits: 8, mixed: { budgetKB } });
    const used = r.layers.reduce((s, l) => s + l.quantKB, 0);
    assert.ok(used <= budgetKB, `${used} > ${budgetKB}`);
    assert.ok(r.mixed && r.mixed.sensitivity.length === 2 * 6);
    await assert.rejects(quantize(model, { bits: 8, mixed: { budgetKB: 0.5 } }), { code: "E_ARG", message: /--budget 0.5 KB is below the smallest size reachable/ });
    const small = { xs: tf.slice(testSet.xs, 0, 300), ys: tf.slice(testSet.ys, 0, 300) };
    const d = await quantize(model, { bits: 8, mixed: { maxDrop: 1, data: small } });
    const floatAcc = (await evaluate(model, small)).accuracy;
    const acc = (await evaluate(d.model, small)).accuracy;
    assert.ok(acc >= floatAcc - 0.01 - 1e-9, `${acc} vs ${floatAcc}`);
    assert.ok(d.layers.some((l) => l.bits < 8), "some layer went below 8 bits");
    tf.dispose([small.xs, small.ys]);
    [full, r, d].forEach((x) => x.model.dispose());
  });
});
