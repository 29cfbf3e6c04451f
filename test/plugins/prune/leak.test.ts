import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { pruningHook } from "../../../plugins/prune/attach";
import { removeMasks } from "../../../plugins/prune/masks";
import { PruneOptions } from "../../../plugins/prune/options";
import { prune } from "../../../plugins/prune/prune";
import { train } from "../../../plugins/toolkit/train";
import { blobs, cnn, mlp, quietHost, useCpu } from "./helpers";

/** Runs `fn` once to warm up, then `runs` times, and checks tf.memory().numTensors did not grow. */
async function noGrowth(fn: () => Promise<void>, runs: number): Promise<void> {
  await fn();
  const before = tf.memory().numTensors;
  for (let i = 0; i < runs; i++) await fn();
  assert.strictEqual(tf.memory().numTensors, before, "tensor count grew over repeated runs");
}

describe("prune/leak", () => {
  let restore: () => void;
  let data: { xs: tf.Tensor; ys: tf.Tensor };
  before(async () => {
    await useCpu();
    restore = quietHost().restore;
    data = blobs(32, [8], 3, 2);
  });
  after(() => {
    restore();
    tf.dispose([data.xs, data.ys]);
  });

  it("50 runs of every method (and failures) leave no tensor behind", async () => {
    const m = mlp();
    const c = cnn();
    const bad = blobs(8, [8], 5, 1);
    const runs: [tf.LayersModel, PruneOptions][] = [
      [m, { sparsity: 0.5, scope: "global" }],
      [m, { stdMultiplier: 1 }],
      [c, { method: "structured", sparsity: 0.5, strip: true }],
      [m, { method: "neuron", minDegree: 2, strip: true }],
    ];
    let i = 0;
    await noGrowth(async () => {
      const [model, options] = runs[i++ % runs.length];
      const r = await prune(model, options);
      removeMasks(r.model);
      r.model.dispose();
      await prune(model, { sparsity: 2 }).catch(() => undefined);
      // An in-place run that fails after pruning (5-class labels for a 3-class model) and is rolled back.
      await prune(m, { sparsity: 0.5, schedule: "iterative", data: bad, inplace: true }).catch(() => undefined);
    }, 50);
    // In place: the model keeps its masks (replaced, not added to) and nothing else stays behind.
    await noGrowth(async () => {
      await prune(m, { sparsity: 0.3, inplace: true });
    }, 10);
    removeMasks(m);
    m.dispose();
    c.dispose();
    tf.dispose([bad.xs, bad.ys]);
  });

  it("schedules, layer removal and masked training leave no tensor behind", async () => {
    const m = mlp();
    const square = tf.sequential({
      layers: [tf.layers.dense({ units: 8, inputShape: [8], activation: "relu" }), tf.layers.dense({ units: 8, activation: "relu" }), tf.layers.dense({ units: 3, activation: "softmax" })],
    });
    await noGrowth(async () => {
      const l = await prune(square, { method: "layer", data });
      l.model.dispose();
      const r = await prune(m, { sparsity: 0.5, schedule: "polynomial", data, epochs: 1, batchSize: 8, frequency: 1 });
      await train(r.model, data, { epochs: 1, batchSize: 16, seed: 0, callbacks: pruningHook(r.model), progress: false });
      removeMasks(r.model);
      r.model.dispose();
      const it = await prune(m, { method: "structured", remove: 2, schedule: "iterative", steps: 2, data, batchSize: 16 });
      removeMasks(it.model);
      it.model.dispose();
    }, 5);
    m.dispose();
    square.dispose();
  });

  it("disposing a pruned model releases its masks and its optimizer: the tensor count returns to what it was", async () => {
    const m = mlp();
    m.compile({ optimizer: tf.train.adam(0.01), loss: "categoricalCrossentropy" });
    const before = tf.memory().numTensors;
    for (const options of [{ sparsity: 0.9 }, { method: "structured", sparsity: 0.5 }] as PruneOptions[]) {
      const r = await prune(m, options);
      assert.ok(r.masks.size > 0);
      await r.model.fit(data.xs, data.ys, { epochs: 1, batchSize: 16, verbose: 0 });
      r.model.dispose();
      assert.ok([...r.masks.values()].every((t) => t.isDisposed), `${JSON.stringify(options)}: masks disposed`);
      assert.strictEqual(tf.memory().numTensors, before, `${JSON.stringify(options)}: nothing left behind`);
    }
    // In place: the user's model owns the masks and releases them when disposed.
    const pruned = await prune(m, { sparsity: 0.5, inplace: true });
    assert.ok(tf.memory().numTensors > before);
    (m.optimizer as tf.Optimizer).dispose();
    const held = tf.memory().numTensors;
    const weights = m.weights.length;
    m.dispose();
    assert.ok([...pruned.masks.values()].every((t) => t.isDisposed));
    assert.strictEqual(tf.memory().numTensors, held - weights - pruned.masks.size, "the model's weights and its masks are gone");
  });
});
