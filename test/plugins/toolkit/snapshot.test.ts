import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { weightSnapshot } from "../../../plugins/toolkit/snapshot";
import { convNet, release } from "./helpers";

function bits(m: tf.LayersModel): number[][] {
  return m.getWeights().map((w) => Array.from(new Uint32Array(Float32Array.from(w.dataSync()).buffer)));
}

describe("toolkit/snapshot", () => {
  before(async () => {
    await tf.setBackend("cpu");
  });

  it("restore puts every weight back bit for bit (−0 included, constraints bypassed) and frees the snapshot", () => {
    const m = tf.sequential({
      layers: [tf.layers.dense({ units: 3, inputShape: [2], kernelConstraint: tf.constraints.maxNorm({ maxValue: 0.1 }), kernelInitializer: "ones" })],
    });
    // Values the constraint would change if they were written through LayerVariable.write.
    tf.tidy(() => (m.layers[0].weights[0].read() as tf.Variable).assign(tf.tensor2d([-0, 2, 3, -4, 5, 6], [2, 3])));
    const before = bits(m);
    const tensors = tf.memory().numTensors;
    const saved = weightSnapshot(m);
    tf.tidy(() => m.layers[0].setWeights([tf.zeros([2, 3]), tf.ones([3])]));
    assert.notDeepStrictEqual(bits(m), before);
    saved.restore();
    assert.deepStrictEqual(bits(m), before);
    assert.strictEqual(tf.memory().numTensors, tensors, "the snapshot is freed");
    saved.restore();
    saved.discard();
    assert.deepStrictEqual(bits(m), before, "later calls do nothing");
    m.dispose();
  });

  it("discard frees the snapshot and leaves the new weights", () => {
    const m = convNet();
    const tensors = tf.memory().numTensors;
    const saved = weightSnapshot(m);
    const x = tf.tidy(() => m.getWeights().map((w) => tf.mul(w, 2)));
    m.setWeights(x);
    const changed = bits(m);
    saved.discard();
    assert.deepStrictEqual(bits(m), changed);
    tf.dispose(x);
    assert.strictEqual(tf.memory().numTensors, tensors);
    release(m);
  });
});
