import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import * as os from "os";
import * as path from "path";
import { promises as fs } from "fs";
import { loadModel, saveModel } from "../../../plugins/toolkit/io";
import { logitsModel } from "../../../plugins/toolkit/logits";
import { assertClose, assertNoLeak, assertSlimlab, convNet, denseNet, init, input, predict, release } from "./helpers";

/** x·W + b of the last Dense on the penultimate activations, computed by hand. */
function manualLogits(m: tf.LayersModel, x: tf.Tensor): Float32Array {
  const last = m.layers[m.layers.length - 1];
  const body = tf.model({ inputs: m.inputs, outputs: m.layers[m.layers.length - 2].output as tf.SymbolicTensor });
  return tf.tidy(() => {
    const [w, b] = last.getWeights();
    return tf.add(tf.matMul(body.predict(x) as tf.Tensor2D, w as tf.Tensor2D), b).dataSync() as Float32Array;
  });
}

describe("toolkit/logits", () => {
  it("strips the softmax of a final Dense; softmax(logits) equals the model's output", () => {
    const m = convNet();
    const z = logitsModel(m);
    const x = input([4, 6, 6, 2]);
    const logits = predict(z, x);
    assertClose(logits, manualLogits(m, x), 1e-6, "logits vs x·W + b");
    const probs = tf.tidy(() => tf.softmax(tf.tensor2d(logits, [4, 3])).dataSync());
    assertClose(probs, predict(m, x), 1e-6, "softmax(logits) vs model");
    assert.strictEqual(z.layers[z.layers.length - 1].getClassName(), "Dense");
    assert.strictEqual((z.layers[z.layers.length - 1].getConfig() as { activation: string }).activation, "linear");
    release(x, m);
  });

  it("shares the weights: changing the classifier changes the logits", () => {
    const m = denseNet();
    const z = logitsModel(m);
    const out = m.getLayer("out");
    assert.deepStrictEqual(z.trainableWeights.slice(-2), out.trainableWeights);
    const x = input([2, 4]);
    const doubled = out.getWeights().map((w) => tf.mul(w, 2));
    const before = predict(z, x);
    out.setWeights(doubled);
    const after = predict(z, x);
    // The body is unchanged, so doubling W and b doubles the logits.
    assertClose(after, Array.from(before, (v) => 2 * v), 1e-5, "logits after doubling");
    release(x, doubled, m);
  });

  it("stops before an Activation('softmax') layer", () => {
    const inp = tf.input({ shape: [4] });
    const h = tf.layers.dense({ name: "fc", units: 3, kernelInitializer: init(1) }).apply(inp) as tf.SymbolicTensor;
    const p = tf.layers.activation({ name: "sm", activation: "softmax" }).apply(h) as tf.SymbolicTensor;
    const m = tf.model({ inputs: inp, outputs: p });
    const z = logitsModel(m);
    assert.deepStrictEqual(z.layers.map((l) => l.name), [m.layers[0].name, "fc"]);
    const x = input([3, 4]);
    assertClose(predict(z, x), predict(tf.model({ inputs: inp, outputs: h }), x), 0, "logits");
    release(x, m);
  });

  it("saves as a stock model with a linear Dense", async () => {
    const m = denseNet();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "slimlab-logits-"));
    await saveModel(logitsModel(m), path.join(dir, "z"));
    const loaded = await loadModel(path.join(dir, "z"));
    const x = input([3, 4]);
    assertClose(predict(loaded, x), predict(logitsModel(m), x), 0, "loaded logits");
    release(x, m, loaded);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("says what the last layer is when there is no softmax", () => {
    const m = tf.sequential({ layers: [tf.layers.dense({ name: "head", units: 2, inputShape: [3] })] });
    assertSlimlab(
      () => logitsModel(m),
      "E_MODEL",
      'logitsModel: the last layer "head" (Dense, activation "linear") has no softmax to strip; it already outputs logits; expected a Dense with activation "softmax" or an Activation("softmax") layer'
    );
    const pool = tf.sequential({ layers: [tf.layers.globalAveragePooling1d({ name: "gap", inputShape: [5, 2] })] });
    assertSlimlab(() => logitsModel(pool), "E_MODEL", /^logitsModel: the last layer "gap" \(GlobalAveragePooling1D\) has no softmax to strip; expected/);
    release(m, pool);
  });

  it("leaks no tensors", async () => {
    const m = denseNet();
    const x = input([2, 4]);
    await assertNoLeak(() => predict(logitsModel(m), x));
    release(x, m);
  });
});
