/**
 * Interrupting analyze() at its check points (before each change, inside
 * the quantize/prune it runs, between scoring batches): E_INTERRUPTED in
 * analyze's words, no step after it, nothing left behind, the model as it was.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { analyze } from "../../../plugins/analyze/analyze";
import { interruptSweep } from "../../support/interrupt";

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

describe("analyze/interrupt", () => {
  let data: { xs: tf.Tensor; ys: tf.Tensor };
  let model: tf.Sequential;
  before(async () => {
    await tf.setBackend("cpu");
    data = tf.tidy(() => ({ xs: tf.randomUniform([40, 6], -1, 1, "float32", 3), ys: tf.oneHot(tf.tensor1d(Array.from({ length: 40 }, (_, i) => i % 3), "int32"), 3).toFloat() }));
    model = tf.sequential({
      name: "amini",
      layers: [
        tf.layers.dense({ name: "fc1", units: 8, activation: "relu", inputShape: [6], kernelInitializer: init(1) }),
        tf.layers.dense({ name: "out", units: 3, activation: "softmax", kernelInitializer: init(2) }),
      ],
    });
  });
  after(() => {
    tf.dispose([data.xs, data.ys]);
    model.dispose();
  });

  it("stops at the next check, in analyze's words, and keeps nothing", async () => {
    const before = model.getWeights().map((w) => Array.from(w.dataSync()));
    const total = await interruptSweep(() => analyze(model, { data, bits: [2, 8], sparsities: [0.5], batchSize: 16 }), {
      message: /^analyze: interrupted by the user (before|while) measuring .+ \(\d+ of 9 changes done\); no analysis was kept and the model is unchanged; run the cell again$|^analyze: interrupted by the user while scoring \d+ of 40 samples; no analysis was kept/,
      at: [0, 0.1, 0.25, 0.5, 0.75, 0.99],
      after: () => assert.deepStrictEqual(model.getWeights().map((w) => Array.from(w.dataSync())), before),
    });
    assert.ok(total > 9, `${total} checks`);
  });
});
