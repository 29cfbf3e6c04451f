import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import * as assert from "assert";
import { pruningHook } from "../../../plugins/prune/attach";
import { removeMasks } from "../../../plugins/prune/masks";
import { prune } from "../../../plugins/prune/prune";
import { train } from "../../../plugins/toolkit/train";
import { blobs, cnn, maxAbsDiff, mlp, predict, quietHost, weight, zeros } from "./helpers";

/** The default backend of the kernel: stripped models must run on it, masks must hold on it. */
describe("prune on the wasm backend", () => {
  let restore: () => void;
  let previous: string;
  before(async () => {
    previous = tf.getBackend();
    await tf.setBackend("wasm");
    restore = quietHost().restore;
  });
  after(async () => {
    restore();
    await tf.setBackend(previous);
  });

  it("a stripped CNN (sliced conv biases) predicts like the masked one", async () => {
    const m = cnn();
    const x = tf.randomUniform([3, 8, 8, 3], -1, 1, "float32", 4);
    const masked = await prune(m, { method: "structured", sparsity: 0.5 });
    const small = await prune(m, { method: "structured", sparsity: 0.5, strip: true });
    assert.ok(maxAbsDiff(predict(small.model, x), predict(masked.model, x)) <= 1e-5);
    x.dispose();
    for (const r of [masked, small]) {
      removeMasks(r.model);
      r.model.dispose();
    }
    m.dispose();
  });

  it("masks hold through train() on wasm", async () => {
    const m = mlp();
    const data = blobs(48, [8], 3, 5);
    const r = await prune(m, { sparsity: 0.6 });
    await train(r.model, data, { epochs: 1, batchSize: 16, seed: 0, lr: 0.01, callbacks: pruningHook(r.model), progress: false });
    assert.strictEqual(zeros(weight(r.model, "fc2", 0)), 72);
    tf.dispose([data.xs, data.ys]);
    removeMasks(r.model);
    r.model.dispose();
    m.dispose();
  });
});
