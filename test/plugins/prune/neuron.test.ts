import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { removeMasks } from "../../../plugins/prune/masks";
import { prune } from "../../../plugins/prune/prune";
import { maxAbsDiff, mlp, predict, quietHost, rejects, useCpu } from "./helpers";

/**
 * 4 → h1(5) → h2(4) → out(2) with a planted chain of weak units:
 * h1_4 has no inputs and one output (to h2_3); h2_3 has that input and no
 * outputs; h2_2 has one input (from h1_1) and no outputs; h1_1 has one input
 * and one output (to h2_2). Every other unit has degree ≥ 4. With minDegree 1 the removals cascade: h1_4 and
 * h2_3, h2_2 in the first sweep, then h1_1 (its only output is gone) in the
 * second, and the third sweep finds nothing.
 */
function chain(): tf.Sequential {
  const m = tf.sequential({
    name: "chain",
    layers: [
      tf.layers.dense({ name: "h1", units: 5, activation: "relu", inputShape: [4] }),
      tf.layers.dense({ name: "h2", units: 4, activation: "relu" }),
      tf.layers.dense({ name: "out", units: 2 }),
    ],
  });
  const v = (i: number) => 0.3 + 0.1 * (i % 7);
  const h1 = Array.from({ length: 4 }, (_, r) => Array.from({ length: 5 }, (_, c) => (c === 4 ? 0 : c === 1 ? (r === 0 ? 0.5 : 0) : v(r * 5 + c))));
  const h2 = Array.from({ length: 5 }, (_, r) => Array.from({ length: 4 }, (_, c) => (c < 2 ? (r === 1 || r === 4 ? 0 : -v(r * 4 + c)) : c === 2 ? (r === 1 ? 0.7 : 0) : r === 4 ? 0.9 : 0)));
  const out = Array.from({ length: 4 }, (_, r) => Array.from({ length: 2 }, (_, c) => (r < 2 ? v(r + c) : 0)));
  const values = [tf.tensor2d(h1), tf.tensor1d([0.1, 0.2, 0.3, 0.4, 0.5]), tf.tensor2d(h2), tf.tensor1d([0.1, 0.1, 0.2, 0.2]), tf.tensor2d(out), tf.tensor1d([0, 0])];
  m.getLayer("h1").setWeights(values.slice(0, 2));
  m.getLayer("h2").setWeights(values.slice(2, 4));
  m.getLayer("out").setWeights(values.slice(4));
  tf.dispose(values);
  return m;
}

describe("prune/neuron", () => {
  let restore: () => void;
  before(async () => {
    await useCpu();
    restore = quietHost().restore;
  });
  after(() => restore());

  it("removes units of degree ≤ θ until a fixed point (cascading across layers)", async () => {
    const m = chain();
    const r = await prune(m, { method: "neuron", minDegree: 1 });
    assert.deepStrictEqual(r.removedUnits, { h1: [1, 4], h2: [2, 3] });
    assert.strictEqual(r.sweeps, 3);
    // A fixed point: pruning the result again removes nothing new.
    const again = await prune(r.model, { method: "neuron", minDegree: 1 });
    assert.deepStrictEqual(again.removedUnits, r.removedUnits);
    [r.model, again.model].forEach((x) => {
      removeMasks(x);
      x.dispose();
    });
    m.dispose();
  });

  it("minDegree 0 removes only disconnected units (none in a dense model)", async () => {
    const m = mlp();
    const r = await prune(m, { method: "neuron" });
    assert.deepStrictEqual(r.removedUnits, {});
    removeMasks(r.model);
    r.model.dispose();
    m.dispose();
  });

  it("strip after neuron pruning gives a smaller model with the same outputs", async () => {
    const m = chain();
    const x = tf.randomUniform([6, 4], -1, 1, "float32", 5);
    const masked = await prune(m, { method: "neuron", minDegree: 1 });
    const small = await prune(m, { method: "neuron", minDegree: 1, strip: true });
    assert.deepStrictEqual(small.model.layers.map((l) => (l.outputShape as number[])[1]), [3, 2, 2]);
    assert.ok(small.after.params < masked.after.params);
    assert.ok(maxAbsDiff(predict(small.model, x), predict(masked.model, x)) <= 1e-5);
    [masked.model, small.model].forEach((x2) => {
      removeMasks(x2);
      x2.dispose();
    });
    x.dispose();
    m.dispose();
  });

  it("refuses a layer whose units are the model's output", async () => {
    const m = mlp();
    await rejects(prune(m, { method: "neuron", layers: "out" }), "E_MODEL", 'prune: layer "out" (Dense) cannot be pruned by method neuron: layer "out" produces a model output');
    m.dispose();
  });
});
