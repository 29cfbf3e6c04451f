import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { inception, mobilenetV2, resnet } from "../../../plugins/models/zoo";
import { cloneModel } from "../../../plugins/toolkit/clone";
import { dependencyGroups, weakestChannels } from "../../../plugins/prune/groups";
import { applyMasks, getMasks, removeMasks } from "../../../plugins/prune/masks";
import { modelGroups, unitPaths } from "../../../plugins/prune/paths";
import { prune } from "../../../plugins/prune/prune";
import { builtinPrunables } from "../../../plugins/prune/registry";
import { strip } from "../../../plugins/prune/strip";
import { randomizeBatchNorm } from "../../support/assertions";
import { blobs, init, maxAbsDiff, predict, quietHost, rejects, throwsSlimlab, useCpu } from "./helpers";

function dispose(...models: tf.LayersModel[]): void {
  for (const m of models) {
    removeMasks(m);
    m.dispose();
  }
}

/** Seeded non-trivial batch norms everywhere (fresh ones are the identity at inference). */
function withStats<M extends tf.LayersModel>(m: M): M {
  m.layers.forEach((l, i) => l.getClassName() === "BatchNormalization" && randomizeBatchNorm(l, 100 + 4 * i));
  return m;
}

const small = {
  resnet: () => withStats(resnet({ widths: [4, 6], blocks: 2, inputShape: [8, 8, 2], seed: 5 })),
  mobilenetV2: () =>
    withStats(
      mobilenetV2({
        inputShape: [8, 8, 2],
        stem: 4,
        head: 10,
        seed: 6,
        stages: [
          { channels: 4, blocks: 1, stride: 1, expansion: 1 },
          { channels: 6, blocks: 2, stride: 2, expansion: 3 },
          { channels: 8, blocks: 2, stride: 1, expansion: 2 },
        ],
      })
    ),
  inception: () => withStats(inception({ inputShape: [8, 8, 2], stem: 4, blocks: [[2, 3, 4, 2], [3, 2, 4, 3]], seed: 7 })),
};

describe("prune/groups: dependency groups across Add and Concatenate", () => {
  let restore: () => void;
  before(async () => {
    await useCpu();
    restore = quietHost().restore;
  });
  after(() => restore());

  it("ties units summed at an Add into channel sets, shifts them by Concatenate offsets, pins foreign inputs", () => {
    // a (2 units) and b (2) are concatenated into channels 0-3 of "add"; c (4) is its other input.
    // "add2" sums c's units with the model input "x" at channels 0-1: those channel sets are pinned.
    const groups = dependencyGroups(
      [
        { layer: "a", units: 2, merges: [{ layer: "add", input: 0, map: [[0], [1]] }] },
        { layer: "b", units: 2, merges: [{ layer: "add", input: 0, map: [[2], [3]] }] },
        { layer: "c", units: 4, merges: [{ layer: "add", input: 1, map: [[0], [1], [2], [3]] }, { layer: "add2", input: 0, map: [[0], [1], [], []] }] },
        { layer: "d", units: 3, merges: [] },
      ],
      new Map([
        ["add", { className: "Add", width: 4, inputs: ["cat", "c"] }],
        ["add2", { className: "Add", width: 2, inputs: ["c_slice", "x"] }],
      ])
    );
    assert.deepStrictEqual(groups.map((g) => g.members), [["a", "b", "c"], ["d"]]);
    assert.deepStrictEqual(groups[0].merges, ["add", "add2"]);
    assert.deepStrictEqual(groups[0].channels.map((s) => s.units), [[["a", 0], ["c", 0]], [["a", 1], ["c", 1]], [["b", 0], ["c", 2]], [["b", 1], ["c", 3]]]);
    assert.deepStrictEqual(groups[0].channels.map((s) => s.pinned !== undefined), [true, true, false, false]);
    assert.strictEqual(groups[0].channels[0].pinned, 'channel 0 of "add2" (Add) also comes from "x", which no prunable layer produces');
    assert.deepStrictEqual(groups[1].channels.map((s) => s.units), [[["d", 0]], [["d", 1]], [["d", 2]]]);
  });

  it("weakestChannels: lowest summed scores first, never a pinned set, one unit left per member, earlier removals kept", () => {
    const g = dependencyGroups(
      [
        { layer: "a", units: 2, merges: [{ layer: "add", input: 0, map: [[0], [1]] }] },
        { layer: "b", units: 1, merges: [{ layer: "add", input: 0, map: [[2]] }] },
        { layer: "c", units: 3, merges: [{ layer: "add", input: 1, map: [[0], [1], [2]] }] },
      ],
      new Map([["add", { className: "Add", width: 3, inputs: ["cat", "c"] }]])
    )[0];
    // Set 2 is b's only unit: removing it would leave b empty, so set 0 goes instead despite its higher score.
    assert.deepStrictEqual(weakestChannels(g, [3, 2, 1], 1, []), [1]);
    assert.deepStrictEqual(weakestChannels(g, [3, 2, 1], 2, []), [1], "a and b keep one unit each: only set 1 can go");
    assert.deepStrictEqual(weakestChannels(g, [1, 5, 9], 1, [1]), [1], "an earlier removal counts towards the target");
    g.channels[1].pinned = "test";
    assert.deepStrictEqual(weakestChannels(g, [3, 2, 1], 1, []), [0]);
  });

  it("a ResNet's residual group: the stem and every block's last conv lose the same channels", async () => {
    const m = small.resnet();
    const groups = modelGroups(m, unitPaths(m, builtinPrunables()));
    const stage1 = groups.find((g) => g.merges.includes("s1b1_add"));
    assert.deepStrictEqual(stage1?.members, ["stem", "s1b1_conv2", "s1b2_conv2"]);
    assert.deepStrictEqual(groups.find((g) => g.merges.includes("s2b1_add"))?.members, ["s2b1_conv2", "s2b1_proj", "s2b2_conv2"]);
    assert.deepStrictEqual(groups.find((g) => g.members.includes("s1b1_conv1"))?.members, ["s1b1_conv1"], "a block's inner conv is a group of its own");
    const r = await prune(m, { method: "structured", sparsity: 0.5 });
    assert.strictEqual(r.removedUnits.stem.length, 2);
    assert.deepStrictEqual(r.removedUnits.s1b1_conv2, r.removedUnits.stem);
    assert.deepStrictEqual(r.removedUnits.s1b2_conv2, r.removedUnits.stem);
    assert.deepStrictEqual(r.removedUnits.s2b1_proj, r.removedUnits.s2b1_conv2);
    // The group's choice follows the summed L1 norms of the members' filters.
    const norms = [0, 1, 2, 3].map((c) =>
      ["stem", "s1b1_conv2", "s1b2_conv2"].reduce((sum, name) => {
        const k = m.getLayer(name).getWeights()[0].dataSync();
        let s = 0;
        for (let i = c; i < k.length; i += 4) s += Math.abs(k[i]);
        return sum + s;
      }, 0)
    );
    const expected = [0, 1, 2, 3].sort((a, b) => norms[a] - norms[b]).slice(0, 2).sort();
    assert.deepStrictEqual(r.removedUnits.stem, expected);
    dispose(r.model);
    m.dispose();
  });

  for (const name of ["resnet", "mobilenetV2", "inception"] as const) {
    it(`strip (${name}): a smaller model whose outputs equal the masked model's to 1e-5`, async () => {
      const m = small[name]();
      const x = tf.randomUniform([3, 8, 8, 2], -1, 1, "float32", 12);
      const masked = await prune(m, { method: "structured", sparsity: 0.5 });
      const stripped = strip(masked.model);
      assert.ok(stripped.model.countParams() < 0.6 * m.countParams(), `${stripped.model.countParams()} of ${m.countParams()} parameters`);
      const gap = maxAbsDiff(predict(stripped.model, x), predict(masked.model, x));
      assert.ok(gap <= 1e-5, `stripped vs masked: ${gap}`);
      assert.ok(maxAbsDiff(predict(masked.model, x), predict(m, x)) > 1e-4, "pruning changed the outputs (the test is not vacuous)");
      // --strip in one go gives the same model.
      const once = await prune(m, { method: "structured", sparsity: 0.5, strip: true });
      assert.strictEqual(once.model.countParams(), stripped.model.countParams());
      assert.ok(once.after.flops < 0.6 * once.before.flops);
      assert.ok(maxAbsDiff(predict(once.model, x), predict(stripped.model, x)) === 0);
      x.dispose();
      dispose(masked.model, stripped.model, once.model);
      m.dispose();
    });
  }

  it("an iterative schedule fine-tunes a ResNet with its groups' masks held, and strips to the same outputs", async () => {
    const m = small.resnet();
    const data = blobs(32, [8, 8, 2], 10, 3);
    const r = await prune(m, { method: "structured", sparsity: 0.5, schedule: "iterative", steps: 2, epochs: 1, batchSize: 16, data });
    assert.strictEqual(r.history.length, 2);
    assert.deepStrictEqual(r.removedUnits.s1b2_conv2, r.removedUnits.stem);
    const x = tf.randomUniform([2, 8, 8, 2], -1, 1, "float32", 13);
    const stripped = strip(r.model);
    assert.ok(maxAbsDiff(predict(stripped.model, x), predict(r.model, x)) <= 1e-5);
    tf.dispose([x, data.xs, data.ys]);
    dispose(r.model, stripped.model);
    m.dispose();
  });

  it("the Inception block's branches are cut at their offsets in the Concatenate", async () => {
    const m = small.inception();
    const r = await prune(m, { method: "structured", remove: 1, layers: "i1_*", strip: true });
    // i1_concat joins 2 + 4 + 2 channels; one unit less in each branch's last conv.
    assert.deepStrictEqual(r.model.getLayer("i1_concat").outputShape, [null, 4, 4, 5]);
    assert.deepStrictEqual(r.model.getLayer("i2_1x1").getWeights()[0].shape, [1, 1, 5, 3]);
    dispose(r.model);
    m.dispose();
  });

  it("a glob that splits a group skips its members, naming the member left out; named exactly, it is an error", async () => {
    const m = small.resnet();
    const r = await prune(m, { method: "structured", remove: 1, layers: "s1b*" });
    const reason = r.skipped.find((s) => s.layer === "s1b1_conv2")?.reason;
    assert.strictEqual(
      reason,
      'its channels meet those of "stem" (Conv2D) at "s1b1_add", "s1b2_add", which is not pruned (layers "s1b*" does not select it); the group stem, s1b1_conv2, s1b2_conv2 is pruned together or not at all'
    );
    assert.deepStrictEqual(Object.keys(r.removedUnits).sort(), ["s1b1_conv1", "s1b2_conv1"]);
    await rejects(prune(m, { method: "structured", remove: 1, layers: "s1b1_conv2" }), "E_MODEL", /^prune: layer "s1b1_conv2" \(Conv2D\) cannot be pruned by method structured: its channels meet those of "stem" \(Conv2D\)/, { oneLine: true });
    dispose(r.model);
    m.dispose();
  });

  it("channels added to the model's input are pinned: the layer is skipped, saying why", async () => {
    const x = tf.input({ shape: [4, 4, 3], name: "x" });
    const conv = tf.layers.conv2d({ name: "conv", filters: 3, kernelSize: 1, kernelInitializer: init(1) }).apply(x) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: "add" }).apply([x, conv]) as tf.SymbolicTensor;
    const feat = tf.layers.conv2d({ name: "feat", filters: 4, kernelSize: 1, kernelInitializer: init(2) }).apply(sum) as tf.SymbolicTensor;
    const out = tf.layers.dense({ name: "out", units: 2, kernelInitializer: init(3) }).apply(tf.layers.flatten({ name: "flat" }).apply(feat)) as tf.SymbolicTensor;
    const m = tf.model({ inputs: x, outputs: out });
    const r = await prune(m, { method: "structured", remove: 1, strip: true });
    assert.strictEqual(r.skipped.find((s) => s.layer === "conv")?.reason, 'channel 0 of "add" (Add) also comes from "x", which no prunable layer produces');
    assert.deepStrictEqual(Object.keys(r.removedUnits), ["feat"]);
    dispose(r.model);
    m.dispose();
  });

  it("a non-linear merge and a shared layer give one line naming the layer and its class", async () => {
    const x = tf.input({ shape: [4, 4, 2], name: "x" });
    const a = tf.layers.conv2d({ name: "a", filters: 3, kernelSize: 1, kernelInitializer: init(1) }).apply(x) as tf.SymbolicTensor;
    const b = tf.layers.conv2d({ name: "b", filters: 3, kernelSize: 1, kernelInitializer: init(2) }).apply(x) as tf.SymbolicTensor;
    const mul = tf.layers.multiply({ name: "mul" }).apply([a, b]) as tf.SymbolicTensor;
    const shared = tf.layers.conv2d({ name: "shared", filters: 3, kernelSize: 1, kernelInitializer: init(3) });
    const twice = shared.apply(shared.apply(mul)) as tf.SymbolicTensor;
    const out = tf.layers.dense({ name: "out", units: 2, kernelInitializer: init(4) }).apply(tf.layers.globalAveragePooling2d({ name: "gap" }).apply(twice)) as tf.SymbolicTensor;
    const m = tf.model({ inputs: x, outputs: out });
    await rejects(
      prune(m, { method: "structured", remove: 1, layers: "a", strip: true }),
      "E_MODEL",
      'prune: layer "a" (Conv2D) cannot be pruned by method structured: its channels flow into "mul" (Multiply), which slimlab cannot cut; slimlab cuts through Concatenate and the linear merges Add, Average, Subtract',
      { oneLine: true }
    );
    await rejects(
      prune(m, { method: "structured", remove: 1, layers: "shared" }),
      "E_MODEL",
      'prune: layer "shared" (Conv2D) cannot be pruned by method structured: layer "shared" (Conv2D) is called 2 times (a shared layer); slimlab removes units only of layers called once',
      { oneLine: true }
    );
    m.dispose();
  });

  it("strip refuses masks that remove a channel from only one input of an Add, in one line", async () => {
    const m = small.resnet();
    const mask = tf.tidy(() => tf.concat([tf.zeros([3, 3, 4, 1]), tf.ones([3, 3, 4, 3])], 3));
    const work = cloneModel(m);
    applyMasks(work, new Map([["s1b1_conv2/kernel", mask]]));
    assert.strictEqual(getMasks(work).size, 1);
    throwsSlimlab(
      () => strip(work),
      "E_MODEL",
      'strip: cannot remove unit 0 of layer "s1b1_conv2" (Conv2D) alone: it is summed with unit 0 of "stem" (Conv2D) at "s1b1_add", "s1b2_add", which the masks keep; prune the group stem, s1b1_conv2, s1b2_conv2 together (method structured does)',
      { oneLine: true }
    );
    dispose(work);
    m.dispose();
  });

  it("neuron pruning leaves residual groups alone and says why", async () => {
    const m = small.resnet();
    const r = await prune(m, { method: "neuron", minDegree: 0 });
    assert.match(r.skipped.find((s) => s.layer === "stem")?.reason ?? "", /^its units are summed with another branch's at "s1b1_add"; neuron pruning removes units one layer at a time/);
    assert.ok(!r.skipped.some((s) => s.layer === "s1b1_conv1"));
    dispose(r.model);
    m.dispose();
  });
});
