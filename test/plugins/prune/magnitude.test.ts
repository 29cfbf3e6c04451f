import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { magnitudeMasks, rankKey } from "../../../plugins/prune/magnitude";
import { getMasks, removeMasks } from "../../../plugins/prune/masks";
import { prune, PruneResult } from "../../../plugins/prune/prune";
import { mlp, quietHost, useCpu, weight, weightsOf, zeros } from "./helpers";

function dispose(r: PruneResult): void {
  removeMasks(r.model);
  r.model.dispose();
}

describe("prune/magnitude", () => {
  let restore: () => void;
  before(async () => {
    await useCpu();
    restore = quietHost().restore;
  });
  after(() => restore());

  it("rankKey (radix selection) agrees with sorting, with many ties and keys spanning both halves", () => {
    for (const seed of [1, 2, 3]) {
      const small = tf.tidy(() => tf.round(tf.randomUniform([501], 0, 20, "float32", seed)).dataSync() as Float32Array);
      const keys = Uint32Array.from(small, (v, i) => (i % 3 === 0 ? v * 70001 : v));
      const sorted = Uint32Array.from(keys).sort();
      for (const k of [0, 7, 250, 500]) {
        const r = rankKey(keys, k);
        assert.strictEqual(r.key, sorted[k]);
        assert.strictEqual(r.below, sorted.findIndex((x) => x === sorted[k]));
      }
    }
  });

  it("zeroes exactly round(s·n) weights even when |w| ties at θ (earlier ones first)", () => {
    const value = tf.tensor1d([1, -1, 1, 1, 2, -2]);
    const { masks, thresholds } = magnitudeMasks([{ name: "w", value }], { sparsity: 0.5 });
    assert.deepStrictEqual(Array.from(masks.get("w")?.dataSync() ?? []), [0, 0, 0, 1, 1, 1]);
    assert.strictEqual(thresholds.get("w"), 1);
    tf.dispose([value, ...masks.values()]);
  });

  it("layer scope: each kernel has exactly round(s·n) zeros, biases untouched, the input unchanged", async () => {
    const m = mlp();
    const original = weightsOf(m);
    const r = await prune(m, { sparsity: 0.37 });
    assert.strictEqual(zeros(weight(r.model, "fc1", 0)), Math.round(0.37 * 96));
    assert.strictEqual(zeros(weight(r.model, "fc2", 0)), Math.round(0.37 * 120));
    assert.strictEqual(zeros(weight(r.model, "out", 0)), Math.round(0.37 * 30));
    assert.deepStrictEqual(weight(r.model, "fc1", 1), weight(m, "fc1", 1));
    assert.deepStrictEqual(weightsOf(m), original);
    assert.notStrictEqual(r.model, m);
    assert.deepStrictEqual([...r.masks.keys()], ["fc1/kernel", "fc2/kernel", "out/kernel"]);
    // Every pruned |w| is ≤ every survivor's in the same layer, and θ is the largest pruned one.
    const k = weight(m, "fc2", 0);
    const mask = r.masks.get("fc2/kernel")?.dataSync() as Float32Array;
    const pruned = Array.from(k).filter((_, i) => mask[i] === 0).map(Math.abs);
    const kept = Array.from(k).filter((_, i) => mask[i] === 1).map(Math.abs);
    assert.ok(Math.max(...pruned) <= Math.min(...kept));
    assert.strictEqual(r.thresholds["fc2/kernel"], Math.fround(Math.max(...pruned)));
    assert.match(r.note, /Dense kernels do not get faster/);
    assert.strictEqual(r.after.rawBytes, r.before.rawBytes);
    assert.ok((r.after.gzipBytes as number) < (r.before.gzipBytes as number));
    dispose(r);
    m.dispose();
  });

  it("global scope: exactly round(s·Σn) zeros in total, one θ, and per-layer sparsities that differ", async () => {
    const m = mlp();
    const g = await prune(m, { sparsity: 0.5, scope: "global" });
    const l = await prune(m, { sparsity: 0.5 });
    const counts = (r: PruneResult) => ["fc1", "fc2", "out"].map((n) => zeros(weight(r.model, n, 0)));
    const gc = counts(g);
    assert.strictEqual(gc.reduce((a, b) => a + b, 0), Math.round(0.5 * (96 + 120 + 30)));
    assert.deepStrictEqual(counts(l), [48, 60, 15]);
    assert.notDeepStrictEqual(gc, [48, 60, 15]);
    const thetas = new Set(Object.values(g.thresholds));
    assert.strictEqual(thetas.size, 1);
    // Global θ: no survivor anywhere is smaller than a pruned weight anywhere.
    const theta = [...thetas][0];
    for (const n of ["fc1", "fc2", "out"]) {
      const before = weight(m, n, 0);
      const after = weight(g.model, n, 0);
      before.forEach((v, i) => assert.ok(after[i] === 0 ? Math.abs(v) <= theta : Math.abs(v) >= theta));
    }
    dispose(g);
    dispose(l);
    m.dispose();
  });

  it("threshold θ: W' = W if |W| > θ else 0, survivors bit-identical", async () => {
    const m = mlp();
    const r = await prune(m, { threshold: 0.2, layers: "fc1" });
    const before = weight(m, "fc1", 0);
    const after = weight(r.model, "fc1", 0);
    before.forEach((v, i) => assert.strictEqual(after[i], Math.abs(v) > 0.2 ? v : 0));
    assert.deepStrictEqual(weight(r.model, "fc2", 0), weight(m, "fc2", 0));
    dispose(r);
    m.dispose();
  });

  it("stdMultiplier q: θ = q·std(W) per layer (Han et al. 2015)", async () => {
    const m = mlp();
    const r = await prune(m, { stdMultiplier: 0.7 });
    for (const n of ["fc1", "fc2", "out"]) {
      const w = Array.from(weight(m, n, 0));
      const mean = w.reduce((a, b) => a + b, 0) / w.length;
      const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
      assert.ok(Math.abs(r.thresholds[`${n}/kernel`] - 0.7 * std) < 1e-6, `${n}: ${r.thresholds[`${n}/kernel`]} vs ${0.7 * std}`);
      const after = weight(r.model, n, 0);
      const theta = r.thresholds[`${n}/kernel`];
      w.forEach((v, i) => assert.strictEqual(after[i], Math.abs(v) > theta ? v : 0));
    }
    dispose(r);
    m.dispose();
  });

  it("keeps the input's masks and never revives a pruned weight", async () => {
    const m = mlp();
    const a = await prune(m, { sparsity: 0.6 });
    const first = Array.from(a.masks.get("fc1/kernel")?.dataSync() ?? []);
    const b = await prune(a.model, { sparsity: 0.3 });
    assert.deepStrictEqual(Array.from(b.masks.get("fc1/kernel")?.dataSync() ?? []), first);
    const c = await prune(a.model, { sparsity: 0.8 });
    const third = c.masks.get("fc1/kernel")?.dataSync() as Float32Array;
    first.forEach((v, i) => assert.ok(v === 1 || third[i] === 0));
    assert.strictEqual(zeros(third), Math.round(0.8 * 96));
    [a, b, c].forEach(dispose);
    m.dispose();
  });

  it("includeBias prunes biases too", async () => {
    const m = mlp();
    const r = await prune(m, { sparsity: 0.5, includeBias: true, layers: "fc1" });
    assert.strictEqual(zeros(weight(r.model, "fc1", 1)), 6);
    assert.ok(getMasks(r.model).has("fc1/bias"));
    dispose(r);
    m.dispose();
  });

  it("inplace prunes the given model itself", async () => {
    const m = mlp();
    const r = await prune(m, { sparsity: 0.5, inplace: true });
    assert.strictEqual(r.model, m);
    assert.strictEqual(zeros(weight(m, "fc1", 0)), 48);
    removeMasks(m);
    assert.strictEqual(getMasks(m).size, 0);
    assert.strictEqual(zeros(weight(m, "fc1", 0)), 48, "removeMasks keeps the zeros (like torch prune.remove)");
    m.dispose();
  });
});
