import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import * as assert from "assert";
import { batchNormAffine, foldBatchNorm } from "../../../plugins/measure/fold";
import { optimize } from "../../../plugins/measure/optimize";
import { mobilenetV2 } from "../../../plugins/models/zoo";
import { assertNoLeak, assertRejectsSlimlab, init, maxDiff, onBackend, predictValues, setBatchNorm, snapshot } from "./helpers";

/** [8, 8, 3] → conv(4)+BN+relu → conv(6, no bias)+BN+relu → maxpool → dropout → flatten → dense(5)+BN → dense(3) → softmax layer. */
function convBnNet(): tf.Sequential {
  const m = tf.sequential({
    name: "conv_bn",
    layers: [
      tf.layers.conv2d({ name: "conv1", filters: 4, kernelSize: 3, padding: "same", inputShape: [8, 8, 3], kernelInitializer: init(1), biasInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: 9 }) }),
      tf.layers.batchNormalization({ name: "bn1" }),
      tf.layers.activation({ name: "relu1", activation: "relu" }),
      tf.layers.conv2d({ name: "conv2", filters: 6, kernelSize: 3, useBias: false, kernelInitializer: init(2) }),
      tf.layers.batchNormalization({ name: "bn2" }),
      tf.layers.reLU({ name: "relu2" }),
      tf.layers.maxPooling2d({ name: "pool", poolSize: 2 }),
      tf.layers.dropout({ name: "drop", rate: 0.5 }),
      tf.layers.flatten({ name: "flat" }),
      tf.layers.dense({ name: "fc1", units: 5, kernelInitializer: init(3) }),
      tf.layers.batchNormalization({ name: "bn3" }),
      tf.layers.dense({ name: "fc2", units: 3, kernelInitializer: init(4) }),
      tf.layers.softmax({ name: "softmax" }),
    ],
  });
  setBatchNorm(m.getLayer("bn1"), 10);
  setBatchNorm(m.getLayer("bn2"), 20);
  setBatchNorm(m.getLayer("bn3"), 30);
  return m;
}

describe("measure/fold", () => {
  it("folds by hand: s = γ/sqrt(var + ε), W' = W·s, b' = (b − μ)·s + β", () => {
    // Two output channels: s = [2/sqrt(3+1), 1/sqrt(0.25+0)] = [1, 2]; shift = β − μ·s = [0.5 − 1, −1 − 0.5·2] = [−0.5, −2].
    const bn = { gamma: [2, 1], beta: [0.5, -1], movingMean: [1, 0.5], movingVariance: [3, 0.25], epsilon: 0 };
    const { scale, shift } = batchNormAffine({ ...bn, movingVariance: [3 + 1, 0.25] });
    assert.deepStrictEqual([...scale], [1, 2]);
    assert.deepStrictEqual([...shift], [-0.5, -2]);
    // Dense kernel [in 2, out 2], row-major: channel = index mod 2.
    const f = foldBatchNorm([1, 1, 3, -1], [4, 0.25], { ...bn, movingVariance: [4, 0.25] });
    assert.deepStrictEqual([...f.kernel], [1, 2, 3, -2]);
    assert.deepStrictEqual([...f.bias], [(4 - 1) * 1 + 0.5, (0.25 - 0.5) * 2 - 1]);
    // No bias, no gamma/beta: b' = −μ·s.
    const g = foldBatchNorm([2], undefined, { movingMean: [3], movingVariance: [4], epsilon: 0 });
    assert.deepStrictEqual([[...g.kernel], [...g.bias]], [[1], [-1.5]]);
  });
});

describe("measure/optimize", () => {
  onBackend("cpu");

  it("folds conv+BN+relu and dense+BN, fuses relu into the convs but not softmax into the dense, drops Dropout; outputs equal to 1e-5", async () => {
    const m = convBnNet();
    const before = snapshot(m);
    const x = tf.randomUniform([5, 8, 8, 3], -1, 1, "float32", 3);
    const expected = predictValues(m, x);
    const r = await optimize(m, { measure: false });
    assert.deepStrictEqual(r.folded, [
      { batchNorm: "bn1", into: "conv1" },
      { batchNorm: "bn2", into: "conv2" },
      { batchNorm: "bn3", into: "fc1" },
    ]);
    assert.deepStrictEqual(r.fused, [
      { activation: "relu1", into: "conv1", fn: "relu" },
      { activation: "relu2", into: "conv2", fn: "relu" },
    ]);
    // tfjs-layers' Dense runs only relu/elu/linear inside _FusedMatMul: softmax stays a layer.
    assert.deepStrictEqual(r.skipped, [{ layer: "softmax", reason: "tfjs runs softmax after a Dense as separate kernels either way, so it stays a layer" }]);
    assert.deepStrictEqual(r.removed, [{ layer: "drop", className: "Dropout" }]);
    assert.deepStrictEqual(r.model.layers.map((l) => l.name), ["conv1", "conv2", "pool", "flat", "fc1", "fc2", "softmax"]);
    assert.ok(r.model instanceof tf.Sequential);
    assert.strictEqual((r.model.getLayer("conv2").getConfig() as { useBias: boolean }).useBias, true);
    const got = predictValues(r.model, x);
    assert.ok(maxDiff(got, expected) <= 1e-5, `max diff ${maxDiff(got, expected)}`);
    assert.ok(r.maxAbsDiff <= 1e-5);
    assert.ok(r.kernels.after.total < r.kernels.before.total, `${r.kernels.before.total} → ${r.kernels.after.total}`);
    assert.strictEqual(r.kernels.after.byName.FusedBatchNorm, undefined);
    assert.strictEqual(r.kernels.before.byName.FusedBatchNorm, 3);
    assert.strictEqual(r.latency, undefined);
    // The user's model is untouched.
    assert.strictEqual(m.layers.length, 13);
    snapshot(m).forEach((w, i) => assert.deepStrictEqual(w, before[i]));
    assert.match(r.toString(), /folded bn1 into conv1\n.*folded bn2 into conv2/s);
    x.dispose();
    m.dispose();
    r.model.dispose();
  });

  it("folds into DepthwiseConv2D (channel c·m + j) and SeparableConv2D but leaves their relu6 and tanh as layers", async () => {
    const m = tf.sequential({
      name: "dw",
      layers: [
        tf.layers.depthwiseConv2d({ name: "dw", kernelSize: 3, depthMultiplier: 2, inputShape: [6, 6, 3], depthwiseInitializer: init(1) }),
        tf.layers.batchNormalization({ name: "bn_dw" }),
        tf.layers.reLU({ name: "relu6", maxValue: 6 }),
        tf.layers.separableConv2d({ name: "sep", filters: 4, kernelSize: 3, depthMultiplier: 2, depthwiseInitializer: init(2), pointwiseInitializer: init(3) }),
        tf.layers.batchNormalization({ name: "bn_sep" }),
        tf.layers.activation({ name: "tanh", activation: "tanh" }),
      ],
    });
    setBatchNorm(m.getLayer("bn_dw"), 1);
    setBatchNorm(m.getLayer("bn_sep"), 2);
    const x = tf.randomUniform([3, 6, 6, 3], -2, 2, "float32", 4);
    const r = await optimize(m, { measure: false });
    assert.deepStrictEqual(r.folded.map((f) => f.into), ["dw", "sep"]);
    // Neither layer runs its activation fused in tfjs 4.22; a relu6 moved into dw would run as minimum(6, relu(x)).
    assert.deepStrictEqual(r.fused, []);
    assert.deepStrictEqual(r.skipped.map((s) => s.layer), ["relu6", "tanh"]);
    assert.deepStrictEqual(r.model.layers.map((l) => l.name), ["dw", "relu6", "sep", "tanh"]);
    assert.strictEqual((r.model.getLayer("dw").getConfig() as { activation: string }).activation, "linear");
    assert.ok(maxDiff(predictValues(r.model, x), predictValues(m, x)) <= 1e-5);
    x.dispose();
    m.dispose();
    r.model.dispose();
  });

  it("in a functional graph, leaves a BN whose conv output is also read elsewhere, or that follows a relu", async () => {
    const input = tf.input({ shape: [6, 6, 2], name: "in" });
    const c1 = tf.layers.conv2d({ name: "c1", filters: 3, kernelSize: 3, padding: "same", kernelInitializer: init(1) }).apply(input) as tf.SymbolicTensor;
    const b1 = tf.layers.batchNormalization({ name: "b1" }).apply(c1) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: "sum" }).apply([c1, b1]) as tf.SymbolicTensor; // c1 is read twice
    const c2 = tf.layers.conv2d({ name: "c2", filters: 3, kernelSize: 3, activation: "relu", kernelInitializer: init(2) }).apply(sum) as tf.SymbolicTensor;
    const b2 = tf.layers.batchNormalization({ name: "b2" }).apply(c2) as tf.SymbolicTensor; // after a relu
    const c3 = tf.layers.conv2d({ name: "c3", filters: 2, kernelSize: 1, kernelInitializer: init(3) }).apply(b2) as tf.SymbolicTensor;
    const b3 = tf.layers.batchNormalization({ name: "b3" }).apply(c3) as tf.SymbolicTensor; // a model output
    const m = tf.model({ inputs: input, outputs: b3, name: "graph" });
    for (const [i, n] of ["b1", "b2", "b3"].entries()) setBatchNorm(m.getLayer(n), 10 * (i + 1));
    const x = tf.randomUniform([2, 6, 6, 2], -1, 1, "float32", 8);
    const r = await optimize(m, { measure: false });
    assert.deepStrictEqual(r.folded, [{ batchNorm: "b3", into: "c3" }]);
    assert.deepStrictEqual(r.skipped, [
      { layer: "b1", reason: "c1's output is also read by sum" },
      { layer: "b2", reason: "it follows c2's relu activation (only a linear layer can take it)" },
    ]);
    assert.deepStrictEqual(r.model.outputLayers.map((l) => l.name), ["c3"]);
    assert.ok(maxDiff(predictValues(r.model, x), predictValues(m, x)) <= 1e-5);
    x.dispose();
    m.dispose();
    r.model.dispose();
  });

  it("returns an equal copy when there is nothing to do, and measures latency before and after", async () => {
    const m = tf.sequential({ name: "plain", layers: [tf.layers.dense({ units: 3, activation: "relu", inputShape: [4], kernelInitializer: init(1) })] });
    const r = await optimize(m, { runs: 2, warmup: 1, batch: 2 });
    assert.deepStrictEqual([r.folded.length, r.fused.length, r.removed.length], [0, 0, 0]);
    assert.notStrictEqual(r.model, m);
    assert.strictEqual(r.maxAbsDiff, 0);
    assert.strictEqual(r.latency?.batch, 2);
    assert.ok((r.latency?.beforeMs ?? 0) > 0 && (r.latency?.afterMs ?? 0) > 0);
    assert.strictEqual(r.latency?.ratio, (r.latency?.afterMs ?? NaN) / (r.latency?.beforeMs ?? NaN));
    assert.match(r.toString(), /nothing to fold, fuse or remove\noutputs match the original's to 0 .*\nkernels per predict: (\d+) → \1\np50 latency at batch 2: /);
    m.dispose();
    r.model.dispose();
  });

  it("rejects a non-model and a bad batch in one line", async () => {
    await assertRejectsSlimlab(optimize([] as unknown as tf.LayersModel), "E_TYPE", /^optimize: expected a tf\.LayersModel, received \[\]; /);
    const m = convBnNet();
    await assertRejectsSlimlab(optimize(m, { batch: 0 }), "E_ARG", "optimize: batch got 0; allowed: a positive integer");
    m.dispose();
  });

  it("does not leak tensors", async () => {
    const m = convBnNet();
    await assertNoLeak(async () => {
      const r = await optimize(m, { runs: 1, warmup: 0 });
      r.model.dispose();
    });
    m.dispose();
  });
});

describe("measure/optimize (first layer)", () => {
  onBackend("cpu");

  it("drops a Dropout that is a Sequential's first layer, keeping the input shape", async () => {
    const m = tf.sequential({
      name: "drop_first",
      layers: [tf.layers.dropout({ name: "drop0", rate: 0.2, inputShape: [4] }), tf.layers.dense({ name: "fc", units: 2, kernelInitializer: init(1) })],
    });
    const r = await optimize(m, { measure: false });
    assert.deepStrictEqual(r.removed, [{ layer: "drop0", className: "Dropout" }]);
    assert.deepStrictEqual(r.model.layers.map((l) => l.name), ["fc"]);
    assert.deepStrictEqual(r.model.inputs[0].shape, [null, 4]);
    assert.strictEqual(r.maxAbsDiff, 0);
    m.dispose();
    r.model.dispose();
  });
});

describe("measure/optimize (MobileNetV2 on wasm)", () => {
  onBackend("wasm");

  it("folds every BN but fuses no relu6: outputs equal to 1e-5, no more kernels, relu6 still one ClipByValue", async () => {
    const m = mobilenetV2({ inputShape: [8, 8, 2], stem: 4, head: 10, seed: 2, stages: [{ channels: 4, blocks: 1, stride: 1, expansion: 1 }, { channels: 6, blocks: 2, stride: 2, expansion: 3 }] });
    m.layers.forEach((l, i) => l.getClassName() === "BatchNormalization" && setBatchNorm(l, 50 + 3 * i));
    const x = tf.randomUniform([3, 8, 8, 2], -1, 1, "float32", 6);
    const r = await optimize(m, { measure: false, batch: 4 });
    const bns = m.layers.filter((l) => l.getClassName() === "BatchNormalization");
    assert.ok(bns.length > 0);
    assert.strictEqual(r.folded.length, bns.length);
    const capped = m.layers.filter((l) => l.getClassName() === "ReLU" && (l.getConfig() as { maxValue?: number }).maxValue === 6).map((l) => l.name);
    assert.ok(capped.length > 0);
    // Every relu6 is still its own layer; only relu/elu may have gone into a Conv2D or Dense.
    for (const name of capped) assert.strictEqual(r.model.getLayer(name).getClassName(), "ReLU");
    for (const f of r.fused) assert.ok(["Conv2D", "Dense"].includes(m.getLayer(f.into).getClassName()) && ["relu", "elu"].includes(f.fn), JSON.stringify(f));
    const gap = maxDiff(predictValues(r.model, x), predictValues(m, x));
    assert.ok(gap <= 1e-5, `optimized vs original: ${gap}`);
    const { before, after } = r.kernels;
    assert.ok(after.total <= before.total, `${before.total} → ${after.total}`);
    assert.strictEqual(after.byName.FusedBatchNorm, undefined);
    // A relu6 inside a layer's activation would run minimum(6, relu(x)) in place of the ReLU layer's clipByValue.
    assert.strictEqual(after.byName.ClipByValue, before.byName.ClipByValue);
    assert.strictEqual(after.byName.Minimum, before.byName.Minimum);
    x.dispose();
    m.dispose();
    r.model.dispose();
  });
});
