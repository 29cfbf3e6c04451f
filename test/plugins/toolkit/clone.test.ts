import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { cloneModel } from "../../../plugins/toolkit/clone";
import { assertClose, assertNoLeak, assertSlimlab, convNet, denseNet, init, input, predict, release } from "./helpers";

/** input → (a: dense 5, b: dense 3) → concat → sep conv-free head: out dense 2 softmax. */
function branchy(): tf.LayersModel {
  const inp = tf.input({ shape: [4], name: "in" });
  const a = tf.layers.dense({ name: "a", units: 5, activation: "tanh", kernelInitializer: init(3) }).apply(inp) as tf.SymbolicTensor;
  const b = tf.layers.dense({ name: "b", units: 3, activation: "relu", kernelInitializer: init(4) }).apply(inp) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: "cat" }).apply([a, b]) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: "out", units: 2, activation: "softmax", kernelInitializer: init(5) }).apply(cat) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: out, name: "branchy" });
}

describe("toolkit/clone", () => {
  it("copies a Sequential model: same class, names and outputs (1e-6)", () => {
    const m = convNet();
    const c = cloneModel(m);
    assert.ok(c instanceof tf.Sequential);
    assert.deepStrictEqual(c.layers.map((l) => l.name), m.layers.map((l) => l.name));
    const x = input([3, 6, 6, 2]);
    assertClose(predict(c, x), predict(m, x), 1e-6, "clone outputs");
    release(x, m, c);
  });

  it("copies a functional model with branches", () => {
    const m = branchy();
    const c = cloneModel(m);
    assert.ok(!(c instanceof tf.Sequential));
    const x = input([5, 4]);
    assertClose(predict(c, x), predict(m, x), 1e-6, "clone outputs");
    release(x, m, c);
  });

  it("copies a SeparableConv2D with depth multiplier 2 (which tfjs's config forgets)", () => {
    const m = tf.sequential({
      layers: [tf.layers.separableConv2d({ name: "sep", filters: 3, kernelSize: 3, depthMultiplier: 2, inputShape: [5, 5, 2] }), tf.layers.flatten()],
    });
    const c = cloneModel(m);
    const x = input([2, 5, 5, 2]);
    assertClose(predict(c, x), predict(m, x), 1e-6, "clone outputs");
    release(x, m, c);
  });

  it("uses new variables: changing either model leaves the other alone", () => {
    const m = denseNet();
    const c = cloneModel(m);
    const x = input([4, 4]);
    const before = predict(m, x);
    assert.notStrictEqual(c.getLayer("fc1").weights[0], m.getLayer("fc1").weights[0]);
    const zeros = m.getLayer("fc1").getWeights().map((w) => tf.zerosLike(w));
    c.getLayer("fc1").setWeights(zeros);
    assertClose(predict(m, x), before, 0, "original after editing the clone");
    const c2 = cloneModel(m);
    const ones = m.getLayer("fc2").getWeights().map((w) => tf.onesLike(w));
    m.getLayer("fc2").setWeights(ones);
    assertClose(predict(c2, x), before, 0, "clone after editing the original");
    release(x, zeros, ones, m, c, c2);
  });

  it("compiles the copy like the original, with a fresh optimizer", () => {
    const m = denseNet();
    m.compile({ optimizer: tf.train.sgd(0.05), loss: "categoricalCrossentropy", metrics: ["accuracy"] });
    const c = cloneModel(m);
    assert.notStrictEqual(c.optimizer, m.optimizer);
    assert.strictEqual(c.optimizer.getClassName(), "SGD");
    assert.deepStrictEqual(c.optimizer.getConfig(), { learningRate: 0.05 });
    assert.strictEqual(c.loss, "categoricalCrossentropy");
    assert.deepStrictEqual(c.metricsNames, m.metricsNames);
    const plain = cloneModel(denseNet());
    assert.strictEqual(plain.optimizer, undefined);
    release(m, c, plain);
  });

  it("the copy owns its fresh optimizer: disposing the copy frees Adam's variables, the original keeps its own", async () => {
    const m = denseNet();
    m.compile({ optimizer: "adam", loss: "categoricalCrossentropy" });
    const variables = () => Object.keys(tf.engine().registeredVariables).length;
    const [tensors, vars] = [tf.memory().numTensors, variables()];
    for (let i = 0; i < 3; i++) cloneModel(m).dispose();
    assert.strictEqual(variables(), vars, "Adam's two variables of each copy are freed");
    assert.strictEqual(tf.memory().numTensors, tensors);
    // The original's Adam still works.
    const x = input([2, 4]);
    const y = tf.oneHot(tf.tensor1d([0, 1], "int32"), 3);
    await m.trainOnBatch(x, y);
    release(x, y, m);
  });

  it("rejects non-models", () => {
    assertSlimlab(() => cloneModel({} as tf.LayersModel), "E_TYPE", /^cloneModel: expected a tf.LayersModel, received an object/);
  });

  it("leaks no tensors", async () => {
    const m = convNet();
    await assertNoLeak(() => cloneModel(m).dispose());
    m.dispose();
  });
});
