/**
 * prune when something fails late (after pruning, while scoring; inside a
 * fine-tuning step) or is interrupted: an in-place model gets its weights
 * bit for bit and its masks back, a copy is freed with its masks, and no
 * tensor or optimizer variable is left; every loop stops at its next step.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { getMasks, removeMasks } from "../../../plugins/prune/masks";
import { PruneOptions } from "../../../plugins/prune/options";
import { prune } from "../../../plugins/prune/prune";
import { abortAfterChecks, interruptSweep, withSignal } from "../../support/interrupt";
import { blobs, mlp, quietHost, rejects, useCpu } from "./helpers";

function bits(m: tf.LayersModel): number[][] {
  return m.getWeights().map((w) => Array.from(new Uint32Array(Float32Array.from(w.dataSync()).buffer)));
}

/** The masks of `m` as plain arrays. */
function maskValues(m: tf.LayersModel): [string, number[]][] {
  return [...getMasks(m)].map(([n, t]) => [n, Array.from(t.dataSync())]);
}

const variables = () => Object.keys(tf.engine().registeredVariables).length;

/** A model whose Dense layers keep their width: method layer can bypass them. */
function square(): tf.Sequential {
  return tf.sequential({
    name: "square",
    layers: [
      tf.layers.dense({ name: "d1", units: 8, inputShape: [8], activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ name: "d2", units: 8, activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      tf.layers.dense({ name: "out", units: 3, activation: "softmax", kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    ],
  });
}

describe("prune failures and interrupts", () => {
  let restore: () => void;
  let data: { xs: tf.Tensor; ys: tf.Tensor };
  let wide: { xs: tf.Tensor; ys: tf.Tensor };
  before(async () => {
    await useCpu();
    restore = quietHost().restore;
    data = blobs(32, [8], 3, 2);
    wide = blobs(32, [9], 3, 2);
  });
  after(() => {
    restore();
    tf.dispose([data.xs, data.ys, wide.xs, wide.ys]);
  });

  it("--inplace: a failure after pruning (while scoring on val, in a later round) puts weights and masks back exactly", async () => {
    const m = mlp();
    // Masks from an earlier in-place run must survive too.
    await prune(m, { sparsity: 0.3, inplace: true });
    const [before, masks] = [bits(m), maskValues(m)];
    const tensors = tf.memory().numTensors;
    const cases: [PruneOptions, number][] = [
      [{ sparsity: 0.7, val: data, inplace: true }, 1],
      [{ method: "structured", remove: 2, val: data, inplace: true }, 1],
      // Round 1 trains 2 steps and scores val in one batch; the 4th forward pass is round 2's first step.
      [{ sparsity: 0.7, schedule: "iterative", steps: 2, data, val: data, batchSize: 16, inplace: true }, 4],
    ];
    for (const [options, failAt] of cases) {
      let calls = 0;
      const apply = m.apply;
      m.apply = function (this: tf.LayersModel, ...args: Parameters<tf.LayersModel["apply"]>) {
        if (++calls === failAt) throw new Error("injected failure");
        return apply.apply(this, args);
      };
      await assert.rejects(prune(m, options), /^Error: injected failure$/);
      delete (m as unknown as Record<string, unknown>).apply;
      assert.strictEqual(calls, failAt, "the failure came after pruning");
      assert.deepStrictEqual(bits(m), before, `${options.method ?? "magnitude"}: weights bit-identical`);
      assert.deepStrictEqual(maskValues(m), masks, "the masks of before");
      assert.strictEqual(tf.memory().numTensors, tensors, "no tensor left behind");
    }
    removeMasks(m);
    m.dispose();
  });

  it("every failure path frees the copy, its masks and optimizer: tensors and variables as before", async () => {
    const m = mlp();
    m.compile({ optimizer: "adam", loss: "categoricalCrossentropy" });
    const sq = square();
    const badDataset = () => tf.data.array([0, 1, 2]).map((i) => tf.tidy(() => ({ xs: tf.zeros([4, (i as number) === 2 ? 9 : 8]), ys: tf.oneHot(tf.zeros([4], "int32"), 3) })));
    const cases: [string, () => Promise<unknown>][] = [
      ["val does not fit (scored after pruning)", () => prune(m, { sparsity: 0.5, val: wide })],
      ["structured, val does not fit", () => prune(m, { method: "structured", sparsity: 0.5, val: wide })],
      ["fine-tuning data do not fit", () => prune(m, { sparsity: 0.5, schedule: "iterative", data: wide })],
      ["polynomial data do not fit", () => prune(m, { sparsity: 0.5, schedule: "polynomial", data: wide, epochs: 1 })],
      ["a Dataset whose batches do not join", () => prune(m, { sparsity: 0.5, schedule: "iterative", data: badDataset() as never })],
      ["layer method, val does not fit", () => prune(sq, { method: "layer", data: wide })],
    ];
    for (const [what, run] of cases) {
      const [tensors, vars] = [tf.memory().numTensors, variables()];
      await assert.rejects(run(), (e: unknown) => e instanceof Error, what);
      assert.strictEqual(tf.memory().numTensors, tensors, `${what}: tensors left behind`);
      assert.strictEqual(variables(), vars, `${what}: variables left behind`);
    }
    // A successful run of a compiled model: disposing the result frees its Adam too.
    const [tensors, vars] = [tf.memory().numTensors, variables()];
    const r = await prune(m, { sparsity: 0.5, schedule: "iterative", steps: 2, data, batchSize: 16 });
    removeMasks(r.model);
    r.model.dispose();
    assert.deepStrictEqual([tf.memory().numTensors, variables()], [tensors, vars]);
    m.dispose();
    sq.dispose();
  });

  const sweeps: [string, () => tf.LayersModel, PruneOptions, RegExp][] = [
    ["iterative rounds with validation", mlp, { sparsity: 0.8, schedule: "iterative", steps: 2, epochs: 2, batchSize: 8, data: undefined as never, val: undefined as never }, /(after \d+ of 8 steps \(epoch [12]\/2\) of "prune round [12]\/2"|while scoring \d+ of 32 samples)/],
    ["the polynomial schedule", mlp, { sparsity: 0.8, schedule: "polynomial", epochs: 2, batchSize: 8, frequency: 1, data: undefined as never }, /(after \d+ of 8 steps \(epoch [12]\/2\) of "prune \(polynomial schedule\)"|while scoring \d+ of 32 samples)/],
    ["scoring layers for method layer", square, { method: "layer", data: undefined as never }, /while scoring \d+ of 32 samples/],
    ["scoring a one-shot result on val", mlp, { sparsity: 0.5, val: undefined as never }, /while scoring 0 of 32 samples/],
  ];
  for (const [what, build, options, where] of sweeps) {
    it(`an interrupt during ${what} stops at the next step and keeps nothing`, async () => {
      const m = build();
      const before = bits(m);
      const filled = { ...options, ...("data" in options ? { data } : {}), ...("val" in options ? { val: data } : {}) } as PruneOptions;
      await interruptSweep(
        async () => {
          const r = await prune(m, filled);
          removeMasks(r.model);
          return r.model;
        },
        {
          message: new RegExp(`^prune: interrupted by the user ${where.source}; (no pruned model was kept and the given one is unchanged|nothing was removed); run the cell again to prune$`),
          at: [0, 0.3, 0.6, 0.99],
          after: () => assert.deepStrictEqual(bits(m), before),
        }
      );
      m.dispose();
    });
  }

  it("--inplace: an interrupt in any round puts weights and masks back exactly", async () => {
    const m = mlp();
    await prune(m, { sparsity: 0.2, inplace: true });
    for (const n of [0, 3, 7, 11]) {
      const [before, masks, tensors] = [bits(m), maskValues(m), tf.memory().numTensors];
      const s = abortAfterChecks(n);
      await withSignal(s.signal, () =>
        rejects(prune(m, { sparsity: 0.8, schedule: "iterative", steps: 3, batchSize: 8, data, val: data, inplace: true }), "E_INTERRUPTED", /^prune: interrupted by the user .*; the model got its weights and masks back; run the cell again to prune$/, { oneLine: true })
      );
      assert.deepStrictEqual(bits(m), before, `interrupt at check ${n + 1}: weights`);
      assert.deepStrictEqual(maskValues(m), masks, `interrupt at check ${n + 1}: masks`);
      assert.strictEqual(tf.memory().numTensors, tensors);
    }
    removeMasks(m);
    m.dispose();
  });
});
