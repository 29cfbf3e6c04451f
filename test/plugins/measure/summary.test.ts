import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { lenet5 } from "../../../plugins/models/zoo";
import { summary } from "../../../plugins/measure/summary";
import { modelCost } from "../../../plugins/measure/cost";
import { assertNoLeak, assertThrowsSlimlab, init, onBackend } from "./helpers";

/** [16, 16, 3] → depthwise 3×3 ×2 stride 2 → BN → ReLU → 1×1 conv 8 → maxpool → separable 3×3 4 → GAP → dense 3 → softmax. */
function depthwiseCnn(): tf.Sequential {
  return tf.sequential({
    name: "dw_cnn",
    layers: [
      tf.layers.depthwiseConv2d({ name: "dw1", inputShape: [16, 16, 3], kernelSize: 3, depthMultiplier: 2, strides: 2, padding: "same", depthwiseInitializer: init(1) }),
      tf.layers.batchNormalization({ name: "bn1" }),
      tf.layers.reLU({ name: "relu1" }),
      tf.layers.conv2d({ name: "pw1", filters: 8, kernelSize: 1, kernelInitializer: init(2) }),
      tf.layers.maxPooling2d({ name: "pool", poolSize: 2 }),
      tf.layers.separableConv2d({ name: "sep", filters: 4, kernelSize: 3, depthwiseInitializer: init(3), pointwiseInitializer: init(4) }),
      tf.layers.globalAveragePooling2d({ name: "gap" }),
      tf.layers.dense({ name: "fc", units: 3, kernelInitializer: init(5) }),
      tf.layers.activation({ name: "softmax", activation: "softmax" }),
    ],
  });
}

describe("measure/summary", () => {
  onBackend("cpu");

  it("counts LeNet-5 (Caffe) by hand: conv1 24·24·20·25 = 288,000 MACs, 2,293,000 in all", () => {
    const m = lenet5({ seed: 1 });
    const s = summary(m);
    const by = Object.fromEntries(s.rows.map((r) => [r.name, r]));
    // conv1: 28×28×1 valid 5×5 → 24×24×20; each output reads 5·5·1 weights.
    assert.deepStrictEqual([by.conv1.macs, by.conv1.flops, by.conv1.params], [288000, 576000, 520]);
    assert.deepStrictEqual(by.conv1.outputShape, [24, 24, 20]);
    // pool1: 12·12·20 outputs, 4 elements each.
    assert.deepStrictEqual([by.pool1.macs, by.pool1.flops], [0, 11520]);
    // conv2: 8·8·50 outputs × 5·5·20 = 1,600,000.
    assert.deepStrictEqual([by.conv2.macs, by.conv2.flops, by.conv2.params], [1600000, 3200000, 25050]);
    assert.deepStrictEqual([by.pool2.flops, by.flatten.flops, by.flatten.params], [3200, 0, 0]);
    assert.deepStrictEqual([by.fc1.macs, by.fc1.flops, by.fc1.params], [400000, 800000, 400500]);
    assert.deepStrictEqual([by.fc2.macs, by.fc2.flops], [5000, 10000]);
    assert.strictEqual(s.totals.macs, 2293000);
    assert.strictEqual(s.totals.flops, 2 * 2293000 + 11520 + 3200);
    assert.strictEqual(s.totals.params, 431080);
    // Biases start at zero: every weight but the 580 biases is non-zero.
    assert.strictEqual(s.totals.nonZeros, 431080 - 580);
    // Activation bytes per example, float32: conv1 11,520 values = 46,080 bytes.
    assert.strictEqual(by.conv1.activationBytes, 46080);
    assert.strictEqual(s.totals.activationBytes, 4 * (11520 + 2880 + 3200 + 800 + 800 + 500 + 10));
    assert.strictEqual(s.totals.peakActivationBytes, 46080);
    assert.deepStrictEqual(s.totals.uncounted, []);
    m.dispose();
  });

  it("modelCost gives summary's totals without reading weights, nested models once per call", () => {
    const m = lenet5({ seed: 1 });
    assert.deepStrictEqual(modelCost(m), { macs: 2293000, flops: 4600720, uncounted: [] });
    const x = tf.input({ shape: [28, 28, 1] });
    const twice = tf.layers.add().apply([m.apply(x) as tf.SymbolicTensor, m.apply(x) as tf.SymbolicTensor]) as tf.SymbolicTensor;
    const outer = tf.model({ inputs: x, outputs: twice });
    // Two calls of LeNet-5 plus a 10-element Add.
    assert.deepStrictEqual(modelCost(outer), { macs: 2 * 2293000, flops: 2 * 4600720 + 10, uncounted: [] });
    assert.deepStrictEqual([summary(outer).totals.macs, summary(outer).totals.flops], [2 * 2293000, 2 * 4600720 + 10]);
    m.dispose();
  });

  it("counts a depthwise-separable CNN by hand", () => {
    const m = depthwiseCnn();
    const s = summary(m);
    const by = Object.fromEntries(s.rows.map((r) => [r.name, r]));
    // dw1: stride 2 same → 8×8×6; each output reads a 3×3 window of one channel.
    assert.deepStrictEqual([by.dw1.macs, by.dw1.params], [8 * 8 * 6 * 9, 3 * 3 * 3 * 2 + 6]);
    assert.deepStrictEqual(by.dw1.outputShape, [8, 8, 6]);
    assert.deepStrictEqual([by.bn1.flops, by.bn1.params], [2 * 384, 24]);
    assert.strictEqual(by.relu1.flops, 384);
    assert.strictEqual(by.pw1.macs, 8 * 8 * 8 * 6);
    assert.strictEqual(by.pool.flops, 4 * 4 * 8 * 4);
    // sep: valid 3×3 on 4×4×8 → 2×2×4; depthwise 2·2·8·9 + pointwise 2·2·8·4.
    assert.deepStrictEqual([by.sep.macs, by.sep.params], [288 + 128, 72 + 32 + 4]);
    assert.strictEqual(by.gap.flops, 16);
    assert.strictEqual(by.fc.macs, 12);
    assert.strictEqual(by.softmax.flops, 3);
    assert.strictEqual(s.totals.macs, 3456 + 3072 + 416 + 12);
    assert.strictEqual(s.totals.flops, 2 * 6956 + 768 + 384 + 512 + 16 + 3);
    assert.strictEqual(s.totals.activationBytes, 4 * (384 * 3 + 512 + 128 + 16 + 4 + 3 + 3));
    m.dispose();
  });

  it("counts a shared layer once per call, merges per element, and flags unknown layers", () => {
    const x = tf.input({ shape: [4], name: "x" });
    const shared = tf.layers.dense({ units: 4, name: "shared", kernelInitializer: init(1) });
    const a = shared.apply(x) as tf.SymbolicTensor;
    const b = shared.apply(a) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: "add" }).apply([a, b]) as tf.SymbolicTensor;
    const norm = tf.layers.layerNormalization({ name: "ln" }).apply(sum) as tf.SymbolicTensor;
    const m = tf.model({ inputs: x, outputs: norm, name: "shared_net" });
    const s = summary(m);
    const by = Object.fromEntries(s.rows.map((r) => [r.name, r]));
    assert.deepStrictEqual([by.x.kind, by.x.flops], ["InputLayer", 0]);
    assert.strictEqual(by.shared.macs, 2 * 16);
    assert.strictEqual(by.add.flops, 4);
    assert.strictEqual(by.ln.counted, false);
    assert.deepStrictEqual(s.totals.uncounted, ["ln"]);
    assert.match(String(s), /not counted \(no FLOP rule\): ln/);
    m.dispose();
  });

  it("shows a table and text with totals", () => {
    const m = lenet5({ seed: 1 });
    const s = summary(m);
    const bundle = s.toMimeBundle();
    assert.match(String(bundle["text/plain"]), /^Model "lenet5"/);
    assert.match(String(bundle["text/plain"]), /total\s+431,080\s+430,500\s+2,293,000\s+4,600,720/);
    assert.match(String(bundle["text/html"]), /<table class="dataframe">/);
    assert.match(String(bundle["text/html"]), /<td>conv1<\/td><td>Conv2D<\/td><td>\[24, 24, 20\]<\/td><td>520<\/td>/);
    assert.strictEqual(s.toDataFrame().shape[0], 7);
    m.dispose();
  });

  it("rejects a non-model in one line", () => {
    assertThrowsSlimlab(() => summary(tf.zeros([2]) as unknown as tf.LayersModel), "E_TYPE", /^summary: expected a tf\.LayersModel, received a Tensor; /);
    assertThrowsSlimlab(() => summary(undefined as unknown as tf.LayersModel), "E_TYPE", /^summary: expected a tf\.LayersModel, received undefined/);
  });

  it("does not leak tensors", async () => {
    const m = depthwiseCnn();
    await assertNoLeak(() => summary(m));
    m.dispose();
  });
});
