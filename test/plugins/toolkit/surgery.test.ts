import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import * as assert from "assert";
import { registerWasmGradients } from "../../../plugins/backends/wasm-gradients";
import { cloneModel } from "../../../plugins/toolkit/clone";
import { Edit, rebuild } from "../../../plugins/toolkit/surgery";
import { weightRole } from "../../../plugins/toolkit/layers";
import { assertClose, assertDiffers, assertNoLeak, assertSlimlab, convNet, denseNet, init, input, predict, randomizeBatchNorm, release } from "./helpers";

/** Zeroes the slices `drop` along `axis` of one weight of a layer (the reference for a cut). */
function zeroAlong(model: tf.LayersModel, layerName: string, role: string, axis: number, drop: number[]): void {
  const layer = model.getLayer(layerName);
  const at = layer.weights.findIndex((w) => weightRole(w) === role);
  const values = layer.getWeights();
  const w = values[at];
  const n = w.shape[axis];
  const mask = tf.tensor(
    Array.from({ length: n }, (_, i) => (drop.includes(i) ? 0 : 1)),
    w.shape.map((_, i) => (i === axis ? n : 1))
  );
  const masked = tf.mul(w, mask);
  values[at] = masked;
  layer.setWeights(values);
  release(mask, masked);
}

function shapes(model: tf.LayersModel, layer: string): number[][] {
  return model.getLayer(layer).weights.map((w) => w.shape as number[]);
}

const flatRows = (positions: number, channels: number, drop: number[]) =>
  Array.from({ length: positions }, (_, p) => drop.map((c) => p * channels + c)).flat();

function apply(layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor {
  return layer.apply(x) as tf.SymbolicTensor;
}

describe("toolkit/surgery", () => {
  it("keeping every channel gives identical outputs", () => {
    const m = convNet();
    const x = input([3, 6, 6, 2]);
    const r = rebuild(m, [{ op: "keep", layer: "conv1", channels: [0, 1, 2, 3] }]);
    assert.ok(r instanceof tf.Sequential);
    assertClose(predict(r, x), predict(m, x), 0, "outputs");
    release(x, m, r);
  });

  it("cutting Dense units equals zeroing their outgoing weights (1e-5) and leaves the original alone", () => {
    const m = denseNet();
    const x = input([6, 4]);
    const before = predict(m, x);
    const r = rebuild(m, [{ op: "keep", layer: "fc1", channels: [0, 2, 5] }]);
    assert.deepStrictEqual(shapes(r, "fc1"), [[4, 3], [3]]);
    assert.deepStrictEqual(shapes(r, "fc2"), [[3, 5], [5]]);
    const ref = cloneModel(m);
    zeroAlong(ref, "fc2", "kernel", 0, [1, 3, 4]);
    assertClose(predict(r, x), predict(ref, x), 1e-5, "cut vs zeroed");
    assertDiffers(predict(r, x), predict(m, x), 1e-4, "cut vs original");
    assertClose(predict(m, x), before, 0, "original after rebuild");
    assert.deepStrictEqual(shapes(m, "fc1"), [[4, 6], [6]]);
    release(x, m, r, ref);
  });

  it("cuts Conv2D filters through BatchNormalization, pooling, Dropout and Flatten (channel-interleaved rows)", () => {
    const m = convNet();
    const x = input([4, 6, 6, 2]);
    const r = rebuild(m, [{ op: "keep", layer: "conv1", channels: [1, 3] }]);
    assert.deepStrictEqual(shapes(r, "conv1"), [[3, 3, 2, 2], [2]]);
    assert.deepStrictEqual(shapes(r, "bn"), [[2], [2], [2], [2]]);
    assert.deepStrictEqual(shapes(r, "fc"), [[8, 5], [5]]);
    // pool output is 2×2×4: flattened index p·4 + c; channels 0 and 2 are gone.
    const ref = cloneModel(m);
    zeroAlong(ref, "fc", "kernel", 0, flatRows(4, 4, [0, 2]));
    assertClose(predict(r, x), predict(ref, x), 1e-5, "cut vs zeroed");
    assertDiffers(predict(r, x), predict(m, x), 1e-4, "cut vs original");
    release(x, m, r, ref);
  });

  it("follows depthwise channels (c·m + j) into Flatten", () => {
    const m = tf.sequential({
      layers: [
        tf.layers.conv2d({ name: "conv1", filters: 4, kernelSize: 3, inputShape: [6, 6, 2], kernelInitializer: init(1) }),
        tf.layers.depthwiseConv2d({ name: "dw", kernelSize: 3, depthMultiplier: 2, depthwiseInitializer: init(2), biasInitializer: "ones" }),
        tf.layers.flatten({ name: "flat" }),
        tf.layers.dense({ name: "out", units: 3, kernelInitializer: init(3) }),
      ],
    });
    const x = input([2, 6, 6, 2]);
    const r = rebuild(m, [{ op: "keep", layer: "conv1", channels: [0, 2] }]);
    assert.deepStrictEqual(shapes(r, "dw"), [[3, 3, 2, 2], [4]]);
    assert.deepStrictEqual(shapes(r, "out"), [[16, 3], [3]]);
    const ref = cloneModel(m);
    zeroAlong(ref, "out", "kernel", 0, flatRows(4, 8, [2, 3, 6, 7]));
    assertClose(predict(r, x), predict(ref, x), 1e-5, "cut vs zeroed");
    assertDiffers(predict(r, x), predict(m, x), 1e-4, "cut vs original");
    release(x, m, r, ref);
  });

  it("cuts into and out of a SeparableConv2D, through global pooling", () => {
    const inp = tf.input({ shape: [6, 6, 2] });
    let t = apply(tf.layers.conv2d({ name: "conv1", filters: 4, kernelSize: 3, kernelInitializer: init(1) }), inp);
    t = apply(tf.layers.separableConv2d({ name: "sep", filters: 3, kernelSize: 3, depthMultiplier: 2, depthwiseInitializer: init(2), pointwiseInitializer: init(3), biasInitializer: "ones" }), t);
    t = apply(tf.layers.globalAveragePooling2d({ name: "gap" }), t);
    const m = tf.model({ inputs: inp, outputs: apply(tf.layers.dense({ name: "out", units: 2, kernelInitializer: init(4) }), t) });
    const x = input([2, 6, 6, 2]);
    const r = rebuild(m, [
      { op: "keep", layer: "conv1", channels: [1, 2] },
      { op: "keep", layer: "sep", channels: [0, 2] },
    ]);
    assert.deepStrictEqual(shapes(r, "sep"), [[3, 3, 2, 2], [1, 1, 4, 2], [2]]);
    const ref = cloneModel(m);
    zeroAlong(ref, "sep", "pointwise_kernel", 2, [0, 1, 6, 7]);
    zeroAlong(ref, "out", "kernel", 0, [1]);
    assertClose(predict(r, x), predict(ref, x), 1e-5, "cut vs zeroed");
    assertDiffers(predict(r, x), predict(m, x), 1e-4, "cut vs original");
    release(x, m, r, ref);
  });

  it("offsets channels through Concatenate", () => {
    const inp = tf.input({ shape: [4] });
    const a = apply(tf.layers.dense({ name: "a", units: 5, activation: "tanh", kernelInitializer: init(3) }), inp);
    const b = apply(tf.layers.dense({ name: "b", units: 3, activation: "relu", kernelInitializer: init(4), biasInitializer: "ones" }), inp);
    const cat = apply(tf.layers.concatenate({ name: "cat" }), [a, b]);
    const m = tf.model({ inputs: inp, outputs: apply(tf.layers.dense({ name: "out", units: 2, kernelInitializer: init(5) }), cat) });
    const x = input([5, 4]);
    const r = rebuild(m, [
      { op: "keep", layer: "a", channels: [1, 2, 4] },
      { op: "keep", layer: "b", channels: [2] },
    ]);
    assert.deepStrictEqual(shapes(r, "out"), [[4, 2], [2]]);
    const ref = cloneModel(m);
    zeroAlong(ref, "out", "kernel", 0, [0, 3, 5, 6]);
    assertClose(predict(r, x), predict(ref, x), 1e-5, "cut vs zeroed");
    assertDiffers(predict(r, x), predict(m, x), 1e-4, "cut vs original");
    release(x, m, r, ref);
  });

  it("needs the same cut on every branch of an Add", () => {
    const inp = tf.input({ shape: [4] });
    const a = apply(tf.layers.dense({ name: "a", units: 4, kernelInitializer: init(1) }), inp);
    const b = apply(tf.layers.dense({ name: "b", units: 4, kernelInitializer: init(2) }), inp);
    const sum = apply(tf.layers.add({ name: "add" }), [a, b]);
    const m = tf.model({ inputs: inp, outputs: apply(tf.layers.dense({ name: "out", units: 2, kernelInitializer: init(3) }), sum) });
    assertSlimlab(
      () => rebuild(m, [{ op: "keep", layer: "a", channels: [0, 1] }]),
      "E_MODEL",
      'rebuild: cannot carry cut channels through layer "add" (Add): input 0 has 2 kept channels but input 1 has all channels; cut every branch it combines with the same channel list'
    );
    const x = input([3, 4]);
    const r = rebuild(m, [
      { op: "keep", layer: "a", channels: [0, 1] },
      { op: "keep", layer: "b", channels: [0, 1] },
    ]);
    const ref = cloneModel(m);
    zeroAlong(ref, "out", "kernel", 0, [2, 3]);
    assertClose(predict(r, x), predict(ref, x), 1e-5, "cut vs zeroed");
    assertDiffers(predict(r, x), predict(m, x), 1e-4, "cut vs original");
    release(x, m, r, ref);
  });

  it("folds BatchNormalization into the conv with replace + remove", () => {
    const m = tf.sequential({
      layers: [
        tf.layers.conv2d({ name: "conv", filters: 3, kernelSize: 3, useBias: false, inputShape: [5, 5, 2], kernelInitializer: init(1) }),
        tf.layers.batchNormalization({ name: "bn", epsilon: 1e-3 }),
        tf.layers.flatten({ name: "flat" }),
        tf.layers.dense({ name: "out", units: 2, kernelInitializer: init(2) }),
      ],
    });
    randomizeBatchNorm(m.getLayer("bn"), 9);
    const [kernel, bias] = tf.tidy(() => {
      const [gamma, beta, mean, variance] = m.getLayer("bn").getWeights();
      const s = tf.div(gamma, tf.sqrt(tf.add(variance, 1e-3)));
      return [tf.mul(m.getLayer("conv").getWeights()[0], s), tf.sub(beta, tf.mul(mean, s))];
    });
    const edits: Edit[] = [
      { op: "replace", layer: "conv", className: "Conv2D", config: { ...m.getLayer("conv").getConfig(), useBias: true }, weights: [kernel, bias] },
      { op: "remove", layer: "bn" },
    ];
    const r = rebuild(m, edits);
    assert.deepStrictEqual(r.layers.map((l) => l.name), ["conv", "flat", "out"]);
    assert.deepStrictEqual(shapes(r, "conv"), [[3, 3, 2, 3], [3]]);
    const x = input([3, 5, 5, 2]);
    assertClose(predict(r, x), predict(m, x), 1e-5, "folded vs original");
    release(x, kernel, bias, m, r);
  });

  it("bypasses shape-preserving layers, including the first layer of a Sequential", () => {
    const m = convNet();
    const x = input([2, 6, 6, 2]);
    const r = rebuild(m, [{ op: "remove", layer: "drop" }]);
    assert.ok(!r.layers.some((l) => l.name === "drop"));
    assertClose(predict(r, x), predict(m, x), 0, "without dropout");
    const first = tf.sequential({
      layers: [tf.layers.dropout({ name: "d", rate: 0.2, inputShape: [4] }), tf.layers.dense({ name: "fc", units: 2, kernelInitializer: init(1) })],
    });
    const r2 = rebuild(first, [{ op: "remove", layer: "d" }]);
    const x2 = input([3, 4]);
    assert.deepStrictEqual(r2.inputs[0].shape, [null, 4]);
    assertClose(predict(r2, x2), predict(first, x2), 0, "without leading dropout");
    assertSlimlab(
      () => rebuild(m, [{ op: "remove", layer: "fc" }]),
      "E_MODEL",
      'rebuild: cannot remove "fc" (Dense): its input shape [null,16] differs from its output shape [null,5]; only shape-preserving layers can be bypassed'
    );
    release(x, x2, m, r, first, r2);
  });

  it("checks the edits", () => {
    const m = denseNet();
    assertSlimlab(() => rebuild(m, [{ op: "keep", layer: "fc3", channels: [0] }]), "E_ARG", 'rebuild: no layer named "fc3" (did you mean fc1?); layers: fc1, fc2, out');
    assertSlimlab(
      () => rebuild(m, [{ op: "keep", layer: "fc1", channels: [0, 6] }]),
      "E_ARG",
      'rebuild: keep channels for "fc1" must be a non-empty list of distinct integers in [0, 6), received [0, 6] (6 is out of range)'
    );
    assertSlimlab(
      () => rebuild(m, [{ op: "keep", layer: "fc1", channels: [1, 1] }]),
      "E_ARG",
      'rebuild: keep channels for "fc1" must be a non-empty list of distinct integers in [0, 6), received [1, 1]'
    );
    assertSlimlab(
      () => rebuild(m, [{ op: "keep", layer: "fc1", channels: [0] }, { op: "remove", layer: "fc1" }]),
      "E_ARG",
      'rebuild: layer "fc1" has more than one edit; combine them into one'
    );
    assertSlimlab(() => rebuild(m, [{ op: "cut", layer: "fc1" } as unknown as Edit]), "E_ARG", 'rebuild: unknown edit op "cut"; allowed: keep, replace, remove');
    assertSlimlab(
      () => rebuild(m, [{ op: "keep", layer: "fc1", channels: [0] }, { op: "replace", layer: "fc2", className: "Dense", config: { units: 5 } }]),
      "E_ARG",
      'rebuild: layer "fc2" is replaced and also receives cut channels from upstream; rebuild in two steps'
    );
    const c = convNet();
    assertSlimlab(
      () => rebuild(c, [{ op: "keep", layer: "bn", channels: [0] }]),
      "E_ARG",
      'rebuild: keep applies to Dense, Conv1D, Conv2D, SeparableConv2D; layer "bn" is BatchNormalization (cut the layer that produces its channels instead)'
    );
    release(m, c);
  });

  it("refuses to carry a cut through layers that mix channels", () => {
    const m = tf.sequential({
      layers: [
        tf.layers.dense({ name: "fc", units: 6, inputShape: [4] }),
        tf.layers.reshape({ name: "reshape", targetShape: [2, 3] }),
        tf.layers.flatten({ name: "flat" }),
        tf.layers.dense({ name: "out", units: 2 }),
      ],
    });
    assertSlimlab(
      () => rebuild(m, [{ op: "keep", layer: "fc", channels: [0, 1] }]),
      "E_MODEL",
      'rebuild: cannot carry cut channels through layer "reshape" (Reshape): the toolkit does not know how its weights or outputs follow its input channels'
    );
    const s = tf.sequential({
      layers: [tf.layers.dense({ name: "fc", units: 6, inputShape: [4] }), tf.layers.activation({ name: "sm", activation: "softmax" })],
    });
    assertSlimlab(() => rebuild(s, [{ op: "keep", layer: "fc", channels: [0, 1] }]), "E_MODEL", /layer "sm" \(Activation\): softmax mixes all channels$/);
    release(m, s);
  });

  it("compiles the result like the original", () => {
    const m = denseNet();
    m.compile({ optimizer: "adam", loss: "categoricalCrossentropy" });
    const r = rebuild(m, [{ op: "keep", layer: "fc2", channels: [0, 1] }]);
    assert.strictEqual(r.optimizer.getClassName(), "Adam");
    assert.strictEqual(r.loss, "categoricalCrossentropy");
    release(m, r);
  });

  it("leaks no tensors", async () => {
    const m = convNet();
    await assertNoLeak(() => rebuild(m, [{ op: "keep", layer: "conv1", channels: [0, 3] }, { op: "remove", layer: "drop" }]).dispose());
    m.dispose();
  });
});

/** The kernel's default backend: sliced weights must be usable by its kernels. */
describe("toolkit/surgery on the wasm backend", () => {
  let previous: string;
  before(async () => {
    previous = tf.getBackend();
    await tf.setBackend("wasm");
    registerWasmGradients();
  });
  after(async () => {
    await tf.setBackend(previous);
  });

  it("a conv model with a bias, rebuilt with fewer filters, predicts (rank-1 bias buffer for FusedConv2D)", () => {
    const m = convNet();
    const x = input([4, 6, 6, 2]);
    const r = rebuild(m, [{ op: "keep", layer: "conv1", channels: [0, 3] }]);
    assert.deepStrictEqual(shapes(r, "conv1"), [[3, 3, 2, 2], [2]]);
    // Before the fix, tf.gather's rank-4 buffer made this throw
    // "FusedConv2D only supports rank-1 bias but got rank 4".
    const out = predict(r, x);
    const ref = cloneModel(m);
    zeroAlong(ref, "fc", "kernel", 0, flatRows(4, 4, [1, 2]));
    assertClose(out, predict(ref, x), 1e-5, "cut vs zeroed on wasm");
    release(x, m, r, ref);
  });

  it("keeps the sliced values bit for bit (−0 included) and leaks no tensors", async () => {
    const m = tf.sequential({ layers: [tf.layers.conv2d({ name: "c", filters: 3, kernelSize: 1, inputShape: [2, 2, 1] })] });
    const k = tf.tensor4d([1, -0, 2], [1, 1, 1, 3]);
    const b = tf.tensor1d([-0, 5, -0]);
    m.getLayer("c").setWeights([k, b]);
    const r = rebuild(m, [{ op: "keep", layer: "c", channels: [1, 2] }]);
    const bits = (t: tf.Tensor) => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));
    assert.deepStrictEqual(bits(r.getLayer("c").getWeights()[0]), [0x80000000, 0x40000000]);
    assert.deepStrictEqual(bits(r.getLayer("c").getWeights()[1]), [0x40a00000, 0x80000000]);
    await assertNoLeak(() => rebuild(m, [{ op: "keep", layer: "c", channels: [0, 2] }]).dispose());
    release(k, b, m, r);
  });
});
