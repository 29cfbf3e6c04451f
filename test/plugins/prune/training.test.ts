import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { pruningCallback, pruningHook } from "../../../plugins/prune/attach";
import { getMasks, removeMasks } from "../../../plugins/prune/masks";
import { prune } from "../../../plugins/prune/prune";
import { iterativeSparsity, polynomialSchedule, sparsityAt } from "../../../plugins/prune/schedule";
import { train } from "../../../plugins/toolkit/train";
import { blobs, mlp, quietHost, rejects, useCpu, weight, zeros } from "./helpers";

/** Positions where the mask of `name` is 0 hold exactly +0, and the other weights moved. */
function assertHeld(model: tf.LayersModel, name: string, before: Float32Array): void {
  const [layer] = name.split("/");
  const w = weight(model, layer, 0);
  const mask = getMasks(model).get(name)?.dataSync() as Float32Array;
  let moved = 0;
  mask.forEach((m, i) => {
    if (m === 0) assert.ok(Object.is(w[i], 0), `${name}[${i}] = ${w[i]} after training`);
    else if (w[i] !== before[i]) moved++;
  });
  assert.ok(moved > 0, "training changed the surviving weights");
}

function release(model: tf.LayersModel): void {
  removeMasks(model);
  model.dispose();
}

describe("prune/training", () => {
  let restore: () => void;
  let data: { xs: tf.Tensor; ys: tf.Tensor };
  before(async () => {
    await useCpu();
    restore = quietHost().restore;
    data = blobs(96, [8], 3, 3);
  });
  after(() => {
    restore();
    tf.dispose([data.xs, data.ys]);
  });

  it("masks survive model.fit through pruningCallback (and do not without it)", async () => {
    const m = mlp();
    const r = await prune(m, { sparsity: 0.7 });
    const before = Float32Array.from(weight(r.model, "fc1", 0));
    r.model.compile({ optimizer: tf.train.adam(0.01), loss: "categoricalCrossentropy" });
    await r.model.fit(data.xs, data.ys, { epochs: 2, batchSize: 16, verbose: 0, callbacks: [pruningCallback(r.model)] });
    assertHeld(r.model, "fc1/kernel", before);
    assert.strictEqual(zeros(weight(r.model, "fc2", 0)), Math.round(0.7 * 120));
    // Control: without the callback Adam moves the pruned weights off zero.
    await r.model.fit(data.xs, data.ys, { epochs: 1, batchSize: 16, verbose: 0 });
    assert.ok(zeros(weight(r.model, "fc2", 0)) < Math.round(0.7 * 120));
    release(r.model);
    m.dispose();
  });

  it("masks survive toolkit train() through pruningHook's afterStep", async () => {
    const m = mlp();
    const r = await prune(m, { method: "structured", sparsity: 0.5 });
    const before = Float32Array.from(weight(r.model, "fc1", 0));
    await train(r.model, data, { epochs: 2, batchSize: 16, seed: 1, lr: 0.01, callbacks: pruningHook(r.model), progress: false });
    assertHeld(r.model, "fc1/kernel", before);
    assertHeld(r.model, "fc2/kernel", Float32Array.from(weight(m, "fc2", 0)));
    release(r.model);
    m.dispose();
  });

  it("a polynomial schedule in model.fit prunes on its steps to the formula's sparsity", async () => {
    const m = mlp();
    m.compile({ optimizer: tf.train.adam(0.01), loss: "categoricalCrossentropy" });
    const cb = pruningCallback(m, { sparsity: 0.8, schedule: "polynomial", beginStep: 0, endStep: 20, frequency: 5 });
    await m.fit(data.xs, data.ys, { epochs: 4, batchSize: 16, verbose: 0, callbacks: [cb] }); // 24 steps
    const s = polynomialSchedule({ finalSparsity: 0.8, beginStep: 0, endStep: 20, frequency: 5 });
    assert.deepStrictEqual(cb.history.map((h) => h.step), [0, 5, 10, 15, 20]);
    for (const h of cb.history) {
      assert.strictEqual(h.target, sparsityAt(s, h.step));
      assert.ok(Math.abs(h.sparsity - h.target) <= 3 / 246, `step ${h.step}: ${h.sparsity} vs ${h.target}`);
    }
    assert.deepStrictEqual(["fc1", "fc2", "out"].map((n) => zeros(weight(m, n, 0))), [77, 96, 24]);
    release(m);
  });

  it("prune() with schedule iterative: rounds rise to the target, survivors retrained, exact final sparsity", async () => {
    const m = mlp();
    const r = await prune(m, { sparsity: 0.75, schedule: "iterative", steps: 2, epochs: 1, data, batchSize: 32 });
    assert.deepStrictEqual(r.history.map((h) => [h.round, h.step, h.target]), [[1, 3, iterativeSparsity(0.75, 1, 2)], [2, 6, 0.75]]);
    assert.deepStrictEqual(["fc1", "fc2", "out"].map((n) => zeros(weight(r.model, n, 0))), [72, 90, Math.round(22.5)]);
    assert.ok(r.evaluation !== undefined && r.evaluation.accuracy >= 0);
    assert.strictEqual(r.figures.length, 3, "sparsity, histogram and schedule figures");
    release(r.model);
    m.dispose();
  });

  it("iterative retraining uses the optimizer and weightDecay given: one round equals oneshot pruning + train() at lr/10", async () => {
    const m = mlp();
    const opts = { sparsity: 0.5, epochs: 1, batchSize: 16, seed: 5, lr: 0.1 };
    const r = await prune(m, { ...opts, schedule: "iterative", steps: 1, data, optimizer: "momentum", weightDecay: 0.01, report: false });
    const ref = await prune(m, { sparsity: 0.5, report: false });
    await train(ref.model, data, { epochs: 1, batchSize: 16, seed: 6, lr: 0.01, optimizer: "momentum", weightDecay: 0.01, progress: false });
    for (const n of ["fc1", "fc2", "out"]) assert.deepStrictEqual(weight(r.model, n, 0), weight(ref.model, n, 0), n);
    const plain = await prune(m, { ...opts, schedule: "iterative", steps: 1, data, optimizer: "momentum", report: false });
    assert.notDeepStrictEqual(weight(plain.model, "fc1", 0), weight(r.model, "fc1", 0), "the decay changed the retrained weights");
    for (const x of [r, ref, plain]) release(x.model);
    m.dispose();
  });

  it("prune() with schedule polynomial trains and ends at the target; structured too", async () => {
    const m = mlp();
    const r = await prune(m, { sparsity: 0.6, schedule: "polynomial", data, epochs: 2, batchSize: 16, frequency: 2 });
    // 12 steps; endStep defaults to 80% of them.
    assert.deepStrictEqual(r.history.map((h) => h.step), [0, 2, 4, 6, 8, 9]);
    assert.strictEqual(r.history[r.history.length - 1].target, 0.6);
    assert.deepStrictEqual(["fc1", "fc2", "out"].map((n) => zeros(weight(r.model, n, 0))), [58, 72, 18]);
    const u = await prune(m, { method: "structured", sparsity: 0.5, schedule: "polynomial", data, epochs: 1, batchSize: 16, endStep: 6, frequency: 3 });
    assert.deepStrictEqual(u.removedUnits, { fc1: u.removedUnits.fc1, fc2: u.removedUnits.fc2 });
    assert.deepStrictEqual([u.removedUnits.fc1.length, u.removedUnits.fc2.length], [6, 5]);
    release(r.model);
    release(u.model);
    m.dispose();
  });

  it("refuses an endStep beyond the run, leaving the model as it was", async () => {
    const m = mlp();
    await rejects(
      prune(m, { sparsity: 0.5, schedule: "polynomial", data, epochs: 1, batchSize: 16, endStep: 50 }),
      "E_ARG",
      "prune: endStep 50 is beyond the 6 optimizer steps of the run (epochs × batches); lower endStep or raise epochs"
    );
    m.dispose();
  });
});
