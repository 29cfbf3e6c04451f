import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { getMasks, removeMasks } from "../../../plugins/prune/masks";
import { prune, PruneResult } from "../../../plugins/prune/prune";
import { strip } from "../../../plugins/prune/strip";
import { unitScores, unitsToRemove, weakestUnits } from "../../../plugins/prune/structured";
import { cnn, maxAbsDiff, mlp, predict, quietHost, useCpu, weight } from "./helpers";

function dispose(...models: tf.LayersModel[]): void {
  for (const m of models) {
    removeMasks(m);
    m.dispose();
  }
}

/** L1 norm of each output channel (last axis) of a kernel. */
function l1(kernel: Float32Array, units: number): number[] {
  const out = new Array<number>(units).fill(0);
  kernel.forEach((v, i) => (out[i % units] += Math.abs(v)));
  return out;
}

describe("prune/structured", () => {
  let restore: () => void;
  before(async () => {
    await useCpu();
    restore = quietHost().restore;
  });
  after(() => restore());

  it("scores units by L1 or L2 norm of their kernel slice", () => {
    const k = tf.tensor2d([[3, 1], [4, 1], [0, 5]]);
    assert.deepStrictEqual(Array.from(unitScores(k, "l1")), [7, 7]);
    const l2 = unitScores(k, "l2");
    assert.ok(Math.abs(l2[0] - 5) < 1e-6 && Math.abs(l2[1] - Math.sqrt(27)) < 1e-6);
    k.dispose();
  });

  it("N' = max(1, N − K) and ties go to the lower index", () => {
    assert.strictEqual(unitsToRemove(6, { remove: 2 }), 2);
    assert.strictEqual(unitsToRemove(6, { remove: 99 }), 5);
    assert.strictEqual(unitsToRemove(6, { sparsity: 0.5 }), 3);
    assert.deepStrictEqual(weakestUnits(Float32Array.from([5, 1, 3, 1]), 2, []), [1, 3]);
    assert.deepStrictEqual(weakestUnits(Float32Array.from([5, 1, 3, 1]), 1, [0]), [0], "earlier removals are kept, never revived");
  });

  it("masks zero the weakest filters' kernel slices, biases and BatchNorm gamma/beta", async () => {
    const m = cnn();
    const r = await prune(m, { method: "structured", remove: 2, layers: "conv1" });
    const scores = l1(weight(m, "conv1", 0), 6);
    const expected = scores.map((s, i) => [s, i]).sort((a, b) => a[0] - b[0]).slice(0, 2).map((p) => p[1]).sort();
    assert.deepStrictEqual(r.removedUnits, { conv1: expected });
    const kernel = weight(r.model, "conv1", 0);
    kernel.forEach((v, i) => assert.strictEqual(v === 0, expected.includes(i % 6), `kernel entry ${i}`));
    const bias = weight(r.model, "conv1", 1);
    bias.forEach((v, c) => assert.strictEqual(v === 0, expected.includes(c)));
    const gamma = weight(r.model, "bn", 0);
    const beta = weight(r.model, "bn", 1);
    for (const c of expected) assert.ok(gamma[c] === 0 && beta[c] === 0);
    assert.deepStrictEqual([...getMasks(r.model).keys()].sort(), ["bn/beta", "bn/gamma", "conv1/bias", "conv1/kernel", "conv2/kernel"]);
    dispose(r.model);
    m.dispose();
  });

  it("L2 can rank differently from L1", async () => {
    const m = tf.sequential({ layers: [tf.layers.dense({ name: "a", units: 2, inputShape: [3], useBias: false }), tf.layers.dense({ name: "b", units: 1 })] });
    const k = tf.tensor2d([[5, 2], [0, 2], [0, 2]]); // L1: 5 vs 6 → unit 0 weakest; L2: 5 vs 3.46 → unit 1 weakest
    m.getLayer("a").setWeights([k]);
    k.dispose();
    const a = await prune(m, { method: "structured", remove: 1, layers: "a", criterion: "l1" });
    const b = await prune(m, { method: "structured", remove: 1, layers: "a", criterion: "l2" });
    assert.deepStrictEqual(a.removedUnits, { a: [0] });
    assert.deepStrictEqual(b.removedUnits, { a: [1] });
    dispose(a.model, b.model);
    m.dispose();
  });

  for (const [name, build, shape] of [
    ["Dense", () => mlp(), [5, 8]],
    ["Conv2D + BatchNorm + Flatten", () => cnn(), [4, 8, 8, 3]],
  ] as const) {
    it(`strip (${name}): outputs equal the masked model's to 1e-5 with fewer parameters`, async () => {
      const m = build();
      const x = tf.randomUniform([...shape], -1, 1, "float32", 11);
      const masked = await prune(m, { method: "structured", sparsity: 0.5 });
      const small = await prune(m, { method: "structured", sparsity: 0.5, strip: true });
      assert.ok(small.after.params < masked.after.params, `${small.after.params} < ${masked.after.params}`);
      assert.ok(small.after.flops < masked.after.flops);
      assert.ok(maxAbsDiff(predict(small.model, x), predict(masked.model, x)) <= 1e-5);
      assert.ok(maxAbsDiff(predict(masked.model, x), predict(m, x)) > 1e-4, "pruning changed the outputs (the test is not vacuous)");
      assert.deepStrictEqual(small.removedUnits, masked.removedUnits);
      // strip() on the masked model gives the same model as strip: true.
      const again = strip(masked.model);
      assert.ok(maxAbsDiff(predict(again.model, x), predict(small.model, x)) === 0);
      assert.strictEqual(again.model.countParams(), small.model.countParams());
      assert.match(small.note, /rebuilt a smaller model/);
      x.dispose();
      dispose(masked.model, small.model, again.model);
      m.dispose();
    });
  }

  it("strip keeps the survivors' magnitude masks, sliced like the weights", async () => {
    const m = mlp();
    const sparse = await prune(m, { sparsity: 0.5, layers: "fc2" });
    const small = await prune(sparse.model, { method: "structured", remove: 4, layers: "fc1", strip: true });
    const mask = small.masks.get("fc2/kernel") as tf.Tensor;
    assert.deepStrictEqual(mask.shape, [8, 10]);
    const w = weight(small.model, "fc2", 0);
    (mask.dataSync() as Float32Array).forEach((v, i) => assert.ok(v === 1 || w[i] === 0));
    assert.ok(!small.masks.has("fc1/kernel"), "fc1's masks are all ones after strip and dropped");
    dispose(sparse.model, small.model);
    m.dispose();
  });

  it("N' = max(1, N − K): remove K ≥ N leaves one unit per layer", async () => {
    const m = mlp();
    const r: PruneResult = await prune(m, { method: "structured", remove: 50, strip: true });
    assert.deepStrictEqual(r.model.layers.map((l) => (l.outputShape as number[])[1]), [1, 1, 3]);
    dispose(r.model);
    m.dispose();
  });
});
