import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { setHost, textHost } from "../../../plugins/core/host";
import { mulberry32 } from "../../../plugins/data/random";
import { clusterGradients, clusterGradientsOnDevice, fineTuneCentroids } from "../../../plugins/quantize/centroids";
import { quantizeKmeans } from "../../../plugins/quantize/kmeans";
import { quantize } from "../../../plugins/quantize/quantize";
import { evaluate } from "../../../plugins/toolkit/train";

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

/** A fixed 3-class problem on 8 features and a 8→12→3 MLP whose fc1 is 75% pruned. */
function problem(): { model: tf.Sequential; data: { xs: tf.Tensor; ys: tf.Tensor } } {
  const r = mulberry32(5);
  const n = 192;
  const x = Float32Array.from({ length: n * 8 }, () => r() * 2 - 1);
  const y = Int32Array.from({ length: n }, (_, i) => (x[i * 8] + x[i * 8 + 1] > 0.3 ? 0 : x[i * 8 + 2] > 0 ? 1 : 2));
  const model = tf.sequential({
    name: "ctiny",
    layers: [
      tf.layers.dense({ name: "fc1", units: 12, activation: "relu", inputShape: [8], kernelInitializer: init(1) }),
      tf.layers.dense({ name: "fc2", units: 3, activation: "softmax", kernelInitializer: init(2) }),
    ],
  });
  const k = model.getLayer("fc1").getWeights()[0].dataSync().map((v, i) => (i % 4 === 0 ? v : 0));
  model.getLayer("fc1").setWeights([tf.tensor2d(k, [8, 12]), tf.zeros([12])]);
  return { model, data: { xs: tf.tensor2d(x, [n, 8]), ys: tf.tensor1d(y, "int32") } };
}

describe("quantize/centroids: Deep Compression centroid fine-tuning", function () {
  this.timeout(60000);
  before(async () => {
    await tf.setBackend("cpu");
    setHost(textHost(() => undefined));
  });

  it("clusterGradients sums gradients per cluster and skips pruned positions", () => {
    const q = quantizeKmeans(new Float32Array([0.1, 0, 0.9, 0.12, 0]), [5], { bits: 1 });
    assert.deepStrictEqual(Array.from(q.codes), [0, 0, 1, 0, 0]);
    assert.deepStrictEqual(Array.from(clusterGradients([1, 100, 2, 4, 100], q)), [5, 2]);
  });

  it("the centroid gradient equals tf.grad of the loss with respect to the codebook (eq. 3)", () => {
    const { model, data } = problem();
    const w = model.getLayer("fc1").getWeights()[0];
    const q = quantizeKmeans(w.dataSync() as Float32Array, [8, 12], { bits: 2 });
    const cb = (q.decoding as { codebook: Float32Array }).codebook;
    const k = cb.length;
    const idx = tf.tensor1d(Int32Array.from(q.codes, (c, i) => ((q.kept as Uint8Array)[i] === 0 ? k : c)), "int32");
    const [b1, w2, b2] = [model.getLayer("fc1").getWeights()[1], ...model.getLayer("fc2").getWeights()];
    const onehot = tf.oneHot(data.ys as tf.Tensor1D, 3);
    const loss = (kernel: tf.Tensor) => {
      const h = tf.relu(tf.add(tf.matMul(data.xs as tf.Tensor2D, kernel as tf.Tensor2D), b1));
      const p = tf.softmax(tf.add(tf.matMul(h, w2 as tf.Tensor2D), b2));
      return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.log(p)), 1)));
    };
    // Reference: differentiate through kernel = [C, 0][index] with tfjs' own autodiff.
    const viaCodebook = tf.grad((c: tf.Tensor) => loss(tf.reshape(tf.gather(tf.concat([c, tf.zeros([1])]), idx), [8, 12])));
    const expected = viaCodebook(tf.tensor1d(cb)).dataSync();
    const kernelGrad = tf.grad(loss)(tf.tensor2d(q.values, [8, 12])).dataSync();
    const got = clusterGradients(kernelGrad, q);
    const onDevice = clusterGradientsOnDevice(tf.tensor2d(kernelGrad, [8, 12]), idx, k).dataSync();
    for (let j = 0; j < k; j++) {
      assert.ok(Math.abs(got[j] - expected[j]) <= 1e-6 * Math.max(1, Math.abs(expected[j])), `centroid ${j}: ${got[j]} vs ${expected[j]}`);
      assert.ok(Math.abs(onDevice[j] - expected[j]) <= 1e-6 * Math.max(1, Math.abs(expected[j])), `centroid ${j} on the backend: ${onDevice[j]} vs ${expected[j]}`);
    }
    assert.ok(Math.max(...Array.from(expected, Math.abs)) > 1e-4, "a vanishing gradient would make the check vacuous");
    tf.dispose([idx, onehot, data.xs, data.ys]);
    model.dispose();
  });

  it("fine-tuning lowers the training loss, keeps the codes, ≤ 2^bits values and the exact zeros", async () => {
    const { model, data } = problem();
    const before = model.getLayer("fc1").getWeights()[0].dataSync();
    const q0 = await quantize(model, { scheme: "kmeans", bits: 2, layers: "fc1" });
    const lossShared = (await evaluate(q0.model, data)).loss;
    const r = await quantize(model, { scheme: "kmeans", bits: 2, layers: "fc1", qat: { data, epochs: 15, batchSize: 32, lr: 0.01, seed: 1 } });
    const lossTuned = (await evaluate(r.model, data)).loss;
    assert.ok(lossTuned < lossShared - 0.01, `loss ${lossShared} → ${lossTuned}`);
    const after = r.model.getLayer("fc1").getWeights()[0].dataSync();
    for (let i = 0; i < before.length; i++) if (before[i] === 0) assert.ok(Object.is(after[i], 0), `zero ${i} became ${after[i]}`);
    assert.strictEqual(after.filter((v) => v !== 0).length, before.filter((v) => v !== 0).length);
    assert.ok(new Set(after.filter((v) => v !== 0)).size <= 4);
    const qf = r.quantized.get("fc1/kernel");
    assert.deepStrictEqual(Array.from(qf?.codes ?? []), Array.from(q0.quantized.get("fc1/kernel")?.codes ?? []));
    assert.ok(qf?.values.every((v, i) => Object.is(v, after[i])), "the reported values are the model's");
    assert.notDeepStrictEqual(Array.from((qf?.decoding as { codebook: Float32Array }).codebook), Array.from((q0.quantized.get("fc1/kernel")?.decoding as { codebook: Float32Array }).codebook));
    tf.dispose([data.xs, data.ys]);
    q0.model.dispose();
    r.model.dispose();
    model.dispose();
  });

  it("does not leak tensors over repeated runs", async () => {
    const { model, data } = problem();
    const q = quantizeKmeans(model.getLayer("fc1").getWeights()[0].dataSync() as Float32Array, [8, 12], { bits: 2 });
    const run = () => fineTuneCentroids(model, new Map([["fc1/kernel", q]]), { data, epochs: 1, batchSize: 64 });
    await run();
    const n = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await run();
    assert.strictEqual(tf.memory().numTensors, n);
    tf.dispose([data.xs, data.ys]);
    model.dispose();
  });
});
