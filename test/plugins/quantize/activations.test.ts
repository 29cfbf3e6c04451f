import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { quantize } from "../../../plugins/quantize/quantize";
import { FakeQuant, fakeQuantize } from "../../../plugins/quantize/fake-quant";
import { observeRange } from "../../../plugins/quantize/calibrate";
import { setHost, textHost } from "../../../plugins/core/host";

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

function mlp(seed = 1): tf.Sequential {
  return tf.sequential({
    name: "amlp",
    layers: [
      tf.layers.dense({ name: "fc1", units: 16, activation: "relu", inputShape: [8], kernelInitializer: init(seed) }),
      tf.layers.dense({ name: "fc2", units: 8, activation: "relu", kernelInitializer: init(seed + 1) }),
      tf.layers.dense({ name: "out", units: 3, activation: "softmax", kernelInitializer: init(seed + 2) }),
    ],
  });
}

function functional(seed = 1): tf.LayersModel {
  const x = tf.input({ shape: [8], name: "x" });
  const a = tf.layers.dense({ name: "fa", units: 6, activation: "relu", kernelInitializer: init(seed) }).apply(x) as tf.SymbolicTensor;
  const b = tf.layers.dense({ name: "fb", units: 6, activation: "relu", kernelInitializer: init(seed + 1) }).apply(x) as tf.SymbolicTensor;
  const c = tf.layers.add({ name: "sum" }).apply([a, b]) as tf.SymbolicTensor;
  const y = tf.layers.dense({ name: "head", units: 2, kernelInitializer: init(seed + 2) }).apply(c) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: y, name: "fun" });
}

describe("quantize activations", () => {
  before(async () => {
    await tf.setBackend("cpu");
    setHost(textHost(() => undefined));
  });

  it("fake quantization rounds to the grid and passes gradients straight through inside the range", () => {
    const x = tf.tensor1d([-1, 0.1, 0.26, 0.5, 2]);
    const y = fakeQuantize(x, tf.scalar(1 / 3), tf.scalar(0), 2);
    const v = Array.from(y.dataSync());
    assert.deepStrictEqual(v.map((t) => Math.round(t * 3)), [0, 0, 1, 2, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(fakeQuantize(t, tf.scalar(1 / 3), tf.scalar(0), 2)))(x);
    assert.deepStrictEqual(Array.from(g.dataSync()), [0, 1, 1, 1, 0]);
  });

  it("observers: minmax keeps the range, percentile trims outliers, mse clips to reduce error", () => {
    const s = new Float32Array(10001).map((_, i) => i / 10000);
    s[5000] = 100; // outlier
    assert.deepStrictEqual(observeRange(s, 0, 100, { observer: "minmax" }), [0, 100]);
    const [, hi] = observeRange(s, 0, 100, { observer: "percentile", percentile: 99 });
    assert.ok(hi < 1.01, `percentile hi ${hi}`);
    // A mild outlier (5): clipping it costs 4² once, keeping it costs a 5/15 step for 10000 values.
    s[5000] = 5;
    const [, mhi] = observeRange(s, 0, 5, { observer: "mse", bits: 4 });
    assert.ok(mhi < 2, `mse hi ${mhi}`);
  });

  it("target both: FakeQuant after hidden layers with calibrated ranges; outputs stay close to float", async () => {
    const m = mlp();
    const calib = tf.randomNormal([64, 8], 0, 1, "float32", 2);
    const r = await quantize(m, { bits: 8, target: "both", calibrate: calib, observer: "minmax" });
    const names = r.model.layers.map((l) => l.name);
    assert.deepStrictEqual(names, ["fc1", "fc1_fq_out", "fc2", "fc2_fq_out", "out"]);
    const fq = r.model.getLayer("fc1_fq_out") as FakeQuant;
    const range = r.activationRanges?.get("fc1") as [number, number];
    assert.strictEqual(fq.min, range[0]);
    assert.strictEqual(fq.max, range[1]);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(r.model.predict(calib) as tf.Tensor, m.predict(calib) as tf.Tensor))).dataSync()[0]);
    assert.ok(diff < 0.05, `max diff ${diff}`);
    // The layer serialises: the model clones/saves with its FakeQuant config.
    const cfg = fq.getConfig();
    assert.strictEqual(cfg.bits, 8);
    r.model.dispose();
    calib.dispose();
  });

  it("functional models get FakeQuant rewired after branch layers", async () => {
    const m = functional();
    const calib = tf.randomNormal([16, 8], 0, 1, "float32", 4);
    const r = await quantize(m, { target: "activations", calibrate: calib });
    assert.deepStrictEqual(r.layers, []);
    assert.ok(r.model.layers.some((l) => l.name === "fa_fq_out") && r.model.layers.some((l) => l.name === "fb_fq_out"));
    const y = r.model.predict(calib) as tf.Tensor;
    assert.deepStrictEqual(y.shape, [16, 2]);
    tf.dispose([y, calib]);
    r.model.dispose();
  });

  it("dynamic: Dense kernels int8, Dense inputs quantized per batch", async () => {
    const m = mlp(3);
    const r = await quantize(m, { dynamic: true });
    assert.deepStrictEqual(r.model.layers.map((l) => l.getClassName()), ["FakeQuant", "Dense", "FakeQuant", "Dense", "FakeQuant", "Dense"]);
    assert.ok(r.layers.every((l) => l.bits === 8 && l.scheme === "affine"));
    const x = tf.randomNormal([4, 8], 0, 1, "float32", 5);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(r.model.predict(x) as tf.Tensor, m.predict(x) as tf.Tensor))).dataSync()[0]);
    assert.ok(diff < 0.05, `max diff ${diff}`);
    x.dispose();
    await assert.rejects(quantize(m, { dynamic: true, inplace: true }), { code: "E_ARG" });
  });
});
