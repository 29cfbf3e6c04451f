import { strict as assert } from "assert";
import * as tf from "@tensorflow/tfjs";
import { kerasMnistCnn, lenet300100, lenet5, mlp, pytorchMnistCnn, ZOO, ZooModelName, zooModel } from "../../../plugins/models/zoo";

/** Per-layer parameter counts, by layer name (layers without weights left out). */
function layerParams(m: tf.LayersModel): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of m.layers) if (l.countParams() > 0) out[l.name] = l.countParams();
  return out;
}

function weightsOf(m: tf.LayersModel): Float32Array[] {
  return m.getWeights().map((w) => w.dataSync() as Float32Array);
}

describe("models/zoo", () => {
  it("LeNet-300-100: 266,610 parameters, 784-300-100-10", () => {
    const m = lenet300100();
    assert.equal(m.countParams(), 266610);
    assert.deepEqual(layerParams(m), { fc1: 235500, fc2: 30100, fc3: 1010 });
    assert.deepEqual(m.inputs[0].shape, [null, 784]);
    m.dispose();
  });

  it("LeNet-5 (Caffe): 431,080 parameters, linear convs, flatten of 800", () => {
    const m = lenet5();
    assert.equal(m.countParams(), 431080);
    assert.deepEqual(layerParams(m), { conv1: 520, conv2: 25050, fc1: 400500, fc2: 5010 });
    assert.deepEqual(m.getLayer("flatten").outputShape, [null, 800]);
    assert.equal((m.getLayer("conv1").getConfig() as { activation: string }).activation, "linear");
    m.dispose();
  });

  it("PyTorch example CNN (article 000): fc1 is 9216 → 128, 1,199,882 parameters", () => {
    const m = pytorchMnistCnn();
    assert.equal(m.countParams(), 1199882);
    assert.deepEqual(layerParams(m), { conv1: 320, conv2: 18496, fc1: 1179776, fc2: 1290 });
    assert.deepEqual(m.getLayer("flatten").outputShape, [null, 9216]);
    assert.deepEqual(m.layers.map((l) => l.name), ["conv1", "conv2", "pool1", "drop1", "flatten", "fc1", "drop2", "fc2"]);
    m.dispose();
  });

  it("Keras CNN (article 003): 93,322 parameters, flatten of 576", () => {
    const m = kerasMnistCnn();
    assert.equal(m.countParams(), 93322);
    assert.deepEqual(layerParams(m), { conv1: 320, conv2: 18496, conv3: 36928, fc1: 36928, fc2: 650 });
    assert.deepEqual(m.getLayer("flatten").outputShape, [null, 576]);
    m.dispose();
  });

  it("every zoo model maps a batch to [N, 10] probability rows and matches its table entry", () => {
    for (const name of Object.keys(ZOO) as ZooModelName[]) {
      const entry = ZOO[name];
      const m = zooModel(name, { seed: 3 });
      assert.equal(m.countParams(), entry.params, name);
      assert.equal(m.name, name);
      const sums = tf.tidy(() => {
        const x = entry.input === "flat" ? tf.randomUniform([2, 784], 0, 1, "float32", 1) : tf.randomUniform([2, 28, 28, 1], 0, 1, "float32", 1);
        const y = m.predict(x) as tf.Tensor;
        assert.deepEqual(y.shape, [2, 10], name);
        return tf.sum(y, 1).dataSync();
      });
      for (const s of sums) assert.ok(Math.abs(s - 1) < 1e-5, `${name} row sums to ${s}`);
      m.dispose();
    }
  });

  it("the same seed gives bit-identical weights; another seed or no seed does not", () => {
    for (const build of [lenet300100, lenet5, pytorchMnistCnn, kerasMnistCnn]) {
      const a = build({ seed: 42 });
      const b = build({ seed: 42 });
      const c = build({ seed: 43 });
      const d = build();
      assert.deepEqual(weightsOf(a), weightsOf(b), a.name);
      assert.notDeepEqual(weightsOf(a)[0], weightsOf(c)[0], a.name);
      assert.notDeepEqual(weightsOf(a)[0], weightsOf(d)[0], a.name);
      [a, b, c, d].forEach((m) => m.dispose());
    }
  });

  it("layers of one model get independent initial weights (no shared seed stream)", () => {
    // fc2 and fc3 of mlp([10, 10, 10]) have the same shape: equal seeds would make them equal.
    const m = mlp([10, 10, 10], { seed: 1, inputSize: 10 });
    const [, , k2, , k3] = weightsOf(m);
    assert.notDeepEqual(k2, k3);
    m.dispose();
  });

  it("mlp builds Hinton-style teachers with dropout and checks its options", () => {
    const t = mlp([1200, 1200], { dropout: 0.5, name: "teacher", seed: 1 });
    assert.deepEqual(t.layers.map((l) => l.name), ["fc1", "drop1", "fc2", "drop2", "fc3"]);
    assert.equal(t.countParams(), 784 * 1200 + 1200 + 1200 * 1200 + 1200 + 1200 * 10 + 10);
    t.dispose();
    assert.throws(() => mlp([300, 0]), { code: "E_ARG", message: "mlp hidden[1] 0 is not allowed: pass a positive integer" });
    assert.throws(() => mlp([300], { dropout: 1 }), { code: "E_ARG", message: "mlp dropout 1 is not allowed: pass a rate in [0, 1), e.g. 0.5" });
  });

  it("models come uncompiled", () => {
    const m = lenet5();
    assert.throws(() => tf.tidy(() => m.evaluate(tf.zeros([1, 28, 28, 1]), tf.zeros([1, 10]))), /compile/);
    m.dispose();
  });

  it("rejects an unknown name with a suggestion, and a non-integer seed", () => {
    assert.throws(() => zooModel("lenet-5"), {
      code: "E_ARG",
      message: 'model "lenet-5" is unknown; allowed: lenet300100, lenet5, pytorchMnistCnn, kerasMnistCnn, resnet, mobilenetV2, inception (did you mean lenet5?)',
    });
    assert.throws(() => lenet5({ seed: 0.1 }), { code: "E_ARG", message: "model seed 0.1 is not allowed: pass an integer such as 42" });
  });

  it("building and disposing models leaks no tensors", () => {
    const warm = lenet5({ seed: 1 });
    warm.dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const m = zooModel("kerasMnistCnn", { seed: i });
      m.dispose();
    }
    assert.equal(tf.memory().numTensors, before);
  });
});
