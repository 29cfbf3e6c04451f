import { strict as assert } from "assert";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmGradients } from "../../../plugins/backends/wasm-gradients";
import { setHost, textHost } from "../../../plugins/core/host";
import { loadMnist } from "../../../plugins/data/mnist";
import { inception, MOBILENET_V2_WIDE, mobilenetV2, resnet, ZOO } from "../../../plugins/models/zoo";
import { train } from "../../../plugins/toolkit/train";
import { assertSlimlab } from "../../support/assertions";

const classesOf = (m: tf.LayersModel) => m.layers.map((l) => l.getClassName());
const count = (m: tf.LayersModel, cls: string) => classesOf(m).filter((c) => c === cls).length;
const weightsOf = (m: tf.LayersModel) => m.getWeights().map((w) => w.dataSync() as Float32Array);
/** Parameters of a bias-free k×k conv from cin to cout followed by a batch norm (4 values per channel). */
const convBn = (k: number, cin: number, cout: number) => k * k * cin * cout + 4 * cout;

describe("models/branching", () => {
  before(async () => {
    await tf.setBackend("cpu");
  });

  it("resnet: basic blocks with Add, a 1×1 projection where the width or stride changes", () => {
    const m = resnet({ seed: 1 });
    assert.equal(count(m, "Add"), 4);
    assert.deepEqual(m.layers.filter((l) => l.name.endsWith("_proj")).map((l) => l.name), ["s2b1_proj"]);
    const inputsOf = (name: string) => m.getLayer(name).inboundNodes[0].inboundLayers.map((l) => l.name);
    assert.deepEqual(inputsOf("s1b1_add"), ["s1b1_conv2_bn", "stem_relu"], "identity shortcut");
    assert.deepEqual(inputsOf("s2b1_add"), ["s2b1_conv2_bn", "s2b1_proj_bn"], "projection shortcut");
    assert.deepEqual(m.getLayer("s2b1_add").outputShape, [null, 14, 14, 16]);
    const stem = convBn(3, 1, 8);
    const stage1 = 2 * 2 * convBn(3, 8, 8);
    const stage2 = convBn(3, 8, 16) + convBn(3, 16, 16) + convBn(1, 8, 16) + 2 * convBn(3, 16, 16);
    assert.equal(m.countParams(), stem + stage1 + stage2 + 16 * 10 + 10);
    assert.equal(m.countParams(), ZOO.resnet.params);
    m.dispose();
  });

  it("mobilenetV2: expand → depthwise → project with ReLU6, Add only where shapes match", () => {
    const m = mobilenetV2({ seed: 1 });
    assert.equal(count(m, "DepthwiseConv2D"), 5);
    assert.deepEqual(m.layers.filter((l) => l.getClassName() === "Add").map((l) => l.name), ["b1_add", "b3_add", "b5_add"]);
    assert.ok(!m.layers.some((l) => l.name === "b1_expand"), "expansion 1: no expand conv");
    assert.equal((m.getLayer("b2_dw_relu").getConfig() as { maxValue: number }).maxValue, 6);
    assert.equal((m.getLayer("b2_project").getConfig() as { activation: string }).activation, "linear", "linear bottleneck");
    assert.deepEqual(m.getLayer("b5_add").outputShape, [null, 7, 7, 16]);
    // depthwise 3×3 with its batch norm: 9·C + 4·C.
    const dw = (c: number) => 9 * c + 4 * c;
    const block = (cin: number, t: number, cout: number) => (t === 1 ? 0 : convBn(1, cin, cin * t)) + dw(cin * t) + convBn(1, cin * t, cout);
    const blocks = block(8, 1, 8) + block(8, 4, 12) + block(12, 4, 12) + block(12, 4, 16) + block(16, 4, 16);
    assert.equal(m.countParams(), convBn(3, 1, 8) + blocks + convBn(1, 16, 48) + 48 * 10 + 10);
    assert.equal(m.countParams(), ZOO.mobilenetV2.params);
    m.dispose();
  });

  it("inception: four branches joined by Concatenate at their widths' offsets", () => {
    const m = inception({ seed: 1 });
    assert.equal(count(m, "Concatenate"), 2);
    const concat = m.getLayer("i1_concat");
    assert.deepEqual(concat.inboundNodes[0].inboundLayers.map((l) => l.name), ["i1_1x1_relu", "i1_3x3_relu", "i1_poolproj_relu"]);
    assert.deepEqual(concat.outputShape, [null, 14, 14, 16]);
    const i1 = convBn(1, 8, 4) + convBn(1, 8, 4) + convBn(3, 4, 8) + convBn(1, 8, 4);
    const i2 = convBn(1, 16, 8) + convBn(1, 16, 6) + convBn(3, 6, 12) + convBn(1, 16, 4);
    assert.equal(m.countParams(), convBn(3, 1, 8) + i1 + i2 + 24 * 10 + 10);
    assert.equal(m.countParams(), ZOO.inception.params);
    m.dispose();
  });

  it("options: widths, blocks, stages, a 32×32×3 input and classes change the graph", () => {
    const r = resnet({ widths: [4, 8, 12], blocks: 1, inputShape: [32, 32, 3], classes: 5 });
    assert.equal(count(r, "Add"), 3);
    assert.deepEqual(r.getLayer("s3b1_add").outputShape, [null, 8, 8, 12]);
    assert.deepEqual(r.outputs[0].shape, [null, 5]);
    const mb = mobilenetV2({ inputShape: [32, 32, 3], stem: 6, head: 20, stages: [{ channels: 6, blocks: 2, stride: 2, expansion: 3 }] });
    assert.deepEqual(mb.getLayer("b2_add").outputShape, [null, 16, 16, 6]);
    assert.deepEqual(mb.getLayer("b1_expand").outputShape, [null, 32, 32, 18]);
    const inc = inception({ blocks: [[2, 2, 2, 2]] });
    assert.deepEqual(inc.getLayer("i1_concat").outputShape, [null, 14, 14, 6]);
    [r, mb, inc].forEach((m) => m.dispose());
  });

  it("MOBILENET_V2_WIDE: MobileNetV2's first-stage widths on 32×32×3, 156,874 parameters counted block by block", () => {
    const m = mobilenetV2({ ...MOBILENET_V2_WIDE, inputShape: [32, 32, 3] });
    // stem 3×3 → 32; then (input, output, expansion) of each block; bias-free convs and depthwise convs, each with a batch norm.
    const blocks: [number, number, number][] = [[32, 16, 1], [16, 24, 6], [24, 24, 6], [24, 32, 6], [32, 32, 6], [32, 32, 6], [32, 64, 6], [64, 64, 6]];
    const depthwiseBn = (c: number) => 9 * c + 4 * c;
    const inBlocks = blocks.reduce((sum, [cin, cout, t]) => sum + (t === 1 ? 0 : convBn(1, cin, cin * t)) + depthwiseBn(cin * t) + convBn(1, cin * t, cout), 0);
    assert.equal(m.countParams(), convBn(3, 3, 32) + inBlocks + convBn(1, 64, 256) + 256 * 10 + 10);
    assert.equal(m.countParams(), 156_874);
    assert.equal(count(m, "Add"), 4);
    assert.deepEqual(m.getLayer("head").outputShape, [null, 4, 4, 256]);
    m.dispose();
  });

  it("the same seed gives bit-identical weights, another seed does not", () => {
    for (const build of [resnet, mobilenetV2, inception]) {
      const [a, b, c] = [build({ seed: 7 }), build({ seed: 7 }), build({ seed: 8 })];
      assert.deepEqual(weightsOf(a), weightsOf(b), a.name);
      assert.notDeepEqual(weightsOf(a)[0], weightsOf(c)[0], a.name);
      [a, b, c].forEach((m) => m.dispose());
    }
  });

  it("bad options name the value and what is allowed", () => {
    assertSlimlab(() => resnet({ widths: [8, 0] }), "E_ARG", "resnet widths[1] 0 is not allowed: pass a positive integer");
    assertSlimlab(() => resnet({ widths: [] }), "E_ARG", "resnet widths [] is not allowed: pass a non-empty array, e.g. [8, 16]");
    assertSlimlab(() => resnet({ inputShape: [28, 28] }), "E_ARG", "resnet inputShape [28, 28] is not allowed: pass [height, width, channels] of positive integers, e.g. [28, 28, 1]");
    assertSlimlab(() => mobilenetV2({ stages: [{ channels: 8, blocks: 1, stride: 3, expansion: 2 }] }), "E_ARG", "mobilenetV2 stages[0].stride 3 is not allowed: pass 1 or 2");
    assertSlimlab(() => mobilenetV2({ stages: [{ channels: 8, blocks: 1, stride: 1, expansion: 0 }] }), "E_ARG", "mobilenetV2 stages[0].expansion 0 is not allowed: pass a positive integer");
    assertSlimlab(() => inception({ blocks: [[4, 4, 8] as unknown as [number, number, number, number]] }), "E_ARG", "inception blocks[0] [4, 4, 8] is not allowed: pass [1×1, 3×3 reduce, 3×3, pool projection] widths, e.g. [4, 4, 8, 4]");
    assertSlimlab(() => inception({ seed: 1.5 }), "E_ARG", "model seed 1.5 is not allowed: pass an integer such as 42");
    assertSlimlab(() => mobilenetV2({ bnMomentum: 1 }), "E_ARG", "mobilenetV2 bnMomentum 1 is not allowed: pass a number in [0, 1), e.g. 0.9");
  });

  it("bnMomentum sets every batch norm's moving-average momentum: one training call moves the stem's moving mean by (1 − momentum) of the batch mean", () => {
    for (const build of [resnet, mobilenetV2, inception]) {
      const m = build({ seed: 3, bnMomentum: 0.5, inputShape: [8, 8, 1] });
      const bns = m.layers.filter((l) => l.getClassName() === "BatchNormalization");
      assert.ok(bns.length > 0 && bns.every((l) => (l.getConfig() as { momentum: number }).momentum === 0.5), m.name);
      const x = tf.randomUniform([4, 8, 8, 1], 0, 1, "float32", 9);
      const conv = tf.model({ inputs: m.inputs, outputs: m.getLayer("stem").output as tf.SymbolicTensor });
      const batchMean = tf.tidy(() => Array.from((conv.predict(x) as tf.Tensor).mean([0, 1, 2]).dataSync()));
      tf.tidy(() => void m.apply(x, { training: true }));
      const moving = Array.from(m.getLayer("stem_bn").getWeights()[2].dataSync());
      moving.forEach((v, c) => assert.ok(Math.abs(v - 0.5 * batchMean[c]) < 1e-5, `${m.name} channel ${c}: ${v} vs ${0.5 * batchMean[c]}`));
      assert.ok(batchMean.some((v) => Math.abs(v) > 1e-3), "the batch mean is not zero, so the check can fail");
      x.dispose();
      m.dispose();
    }
  });

  describe("a few training steps on MNIST lower the held-out loss (wasm)", function () {
    this.timeout(120000);
    let trainSet: { xs: tf.Tensor; ys: tf.Tensor };
    let heldOut: { xs: tf.Tensor; ys: tf.Tensor };
    let previous: string;
    before(async () => {
      previous = tf.getBackend();
      registerWasmGradients();
      await tf.setBackend("wasm");
      setHost(textHost(() => undefined));
      trainSet = loadMnist({ split: "train", subset: 384, shuffle: true, seed: 3, labels: "onehot" });
      heldOut = loadMnist({ split: "test", subset: 128, shuffle: true, seed: 4, labels: "onehot" });
    });
    after(async () => {
      tf.dispose([trainSet.xs, trainSet.ys, heldOut.xs, heldOut.ys]);
      await tf.setBackend(previous);
    });

    /**
     * Cross-entropy on the held-out images with batch statistics in the
     * batch norms: their moving averages (momentum 0.99) hardly move in a
     * dozen steps, so inference mode would hide what the weights learnt.
     */
    const heldOutLoss = (m: tf.LayersModel) =>
      tf.tidy(() => tf.mean(tf.metrics.categoricalCrossentropy(heldOut.ys, m.apply(heldOut.xs, { training: true }) as tf.Tensor)).dataSync()[0]);

    for (const build of [resnet, mobilenetV2, inception]) {
      it(build.name, async () => {
        const m = build({ seed: 1 });
        const before = heldOutLoss(m);
        const h = await train(m, trainSet, { epochs: 1, batchSize: 32, seed: 1, lr: 1e-2, progress: false });
        const after = heldOutLoss(m);
        assert.equal(h.steps, 12);
        assert.ok(after < 0.9 * before, `held-out loss ${before.toFixed(3)} → ${after.toFixed(3)}`);
        console.log(`        held-out loss ${before.toFixed(3)} → ${after.toFixed(3)} after ${h.steps} steps`);
        m.dispose();
      });
    }
  });
});
