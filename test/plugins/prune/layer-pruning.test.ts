import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { prune } from "../../../plugins/prune/prune";
import { blobs, init, maxAbsDiff, predict, quietHost, rejects, useCpu } from "./helpers";

/** 8 → fc1(10) → fc2(10) → fc3(10, identity weights) → out(3): fc3 after a ReLU changes nothing. */
function deep(): tf.Sequential {
  const m = tf.sequential({
    name: "deep",
    layers: [
      tf.layers.dense({ name: "fc1", units: 10, activation: "relu", inputShape: [8], kernelInitializer: init(1) }),
      tf.layers.dense({ name: "fc2", units: 10, activation: "relu", kernelInitializer: init(2) }),
      tf.layers.dense({ name: "fc3", units: 10, activation: "relu", kernelInitializer: "identity" }),
      tf.layers.dense({ name: "out", units: 3, activation: "softmax", kernelInitializer: init(3) }),
    ],
  });
  return m;
}

describe("prune/layer", () => {
  let restore: () => void;
  let data: { xs: tf.Tensor; ys: tf.Tensor };
  before(async () => {
    await useCpu();
    restore = quietHost().restore;
    data = blobs(60, [8], 3, 9);
  });
  after(() => {
    restore();
    tf.dispose([data.xs, data.ys]);
  });

  it("scores each bypassable layer by the loss without it and removes the least important", async () => {
    const m = deep();
    const r = await prune(m, { method: "layer", count: 1, data });
    assert.deepStrictEqual(r.removedLayers, ["fc3"]);
    assert.deepStrictEqual(r.layerScores?.map((s) => [s.layer, s.removed]), [["fc3", true], ["fc2", false]]);
    const fc3 = r.layerScores?.[0];
    assert.ok(fc3 !== undefined && Math.abs(fc3.delta) < 1e-6, "bypassing an identity after a ReLU does not change the loss");
    assert.ok((r.layerScores?.[1].delta ?? 0) !== 0);
    assert.deepStrictEqual(r.model.layers.map((l) => l.name), ["fc1", "fc2", "out"]);
    assert.strictEqual(r.after.params, r.before.params - 110);
    assert.ok(maxAbsDiff(predict(r.model, data.xs), predict(m, data.xs)) < 1e-6);
    assert.deepStrictEqual(r.skipped.map((s) => s.layer), ["fc1", "out"]);
    assert.match(r.note, /^Removed fc3 \(validation loss/);
    r.model.dispose();
    m.dispose();
  });

  it("needs data, a bypassable layer and a count it can meet", async () => {
    const m = deep();
    await rejects(
      prune(m, { method: "layer", count: 1 } as never),
      "E_MISSING_ARG",
      'prune: method "layer" scores each layer by the loss without it and needs data; pass data: {xs, ys} (--data <var>)'
    );
    await rejects(prune(m, { method: "layer", count: 3, data }), "E_ARG", "prune: count 3 exceeds the 2 removable layers (fc2, fc3); pass count <= 2");
    await rejects(
      prune(m, { method: "layer", layers: "fc1", data }),
      "E_MODEL",
      'prune: layer "fc1" (Dense) cannot be removed by method layer: its input shape [null,8] differs from its output shape [null,10]'
    );
    m.dispose();
  });
});
