import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { optimize } from "../../../plugins/measure/optimize";
import { summary } from "../../../plugins/measure/summary";
import { inception, mobilenetV2, resnet } from "../../../plugins/models/zoo";
import { removeMasks } from "../../../plugins/prune/masks";
import { prune } from "../../../plugins/prune/prune";
import { setHost, textHost } from "../../../plugins/core/host";
import { maxDiff, onBackend, predictValues, setBatchNorm } from "./helpers";

/** Seeded non-trivial batch norms (fresh ones are the identity at inference, which would hide a bad fold). */
function withStats<M extends tf.LayersModel>(m: M): M {
  m.layers.forEach((l, i) => l.getClassName() === "BatchNormalization" && setBatchNorm(l, 40 + 4 * i));
  return m;
}

const builds = {
  resnet: () => withStats(resnet({ widths: [4, 6], blocks: 2, inputShape: [8, 8, 2], seed: 1 })),
  mobilenetV2: () => withStats(mobilenetV2({ inputShape: [8, 8, 2], stem: 4, head: 10, seed: 2, stages: [{ channels: 4, blocks: 1, stride: 1, expansion: 1 }, { channels: 6, blocks: 2, stride: 2, expansion: 3 }] })),
  inception: () => withStats(inception({ inputShape: [8, 8, 2], stem: 4, blocks: [[2, 3, 4, 2]], seed: 3 })),
};

describe("measure on branching models (Add, depthwise, Concatenate)", () => {
  onBackend("cpu");

  it("%summary counts a ResNet's FLOPs by hand, Adds and projections included", () => {
    const m = resnet({ widths: [2, 3], blocks: 1, inputShape: [4, 4, 1], seed: 1 });
    const s = summary(m);
    const conv = (positions: number, out: number, k: number, cin: number) => 2 * positions * out * k * k * cin;
    // stem 4×4: conv 1→2, BN (2 per element), ReLU (1 per element).
    const stem = conv(16, 2, 3, 1) + 2 * 32 + 32;
    // s1b1 at 4×4, width 2: conv1, bn, relu, conv2, bn, add (1 per element), relu.
    const s1 = conv(16, 2, 3, 2) + 64 + 32 + conv(16, 2, 3, 2) + 64 + 32 + 32;
    // s2b1 at 2×2, width 3: conv1 (stride 2), bn, relu, conv2, bn, 1×1 projection + bn, add, relu.
    const s2 = conv(4, 3, 3, 2) + 24 + 12 + conv(4, 3, 3, 3) + 24 + conv(4, 3, 1, 2) + 24 + 12 + 12;
    // global average pooling reads 12 elements; fc 3 → 10.
    const head = 12 + 2 * 3 * 10;
    assert.strictEqual(s.totals.flops, stem + s1 + s2 + head);
    assert.deepStrictEqual(s.totals.uncounted, []);
    const add = s.rows.find((r) => r.name === "s2b1_add");
    assert.strictEqual(add?.flops, 12);
    m.dispose();
  });

  it("%summary: a depthwise layer of the MobileNetV2 stack reads 9 weights per output; an Inception concat is free", () => {
    const mb = builds.mobilenetV2();
    const dw = summary(mb).rows.find((r) => r.name === "b2_dw");
    // b2: 4 channels expanded ×3 = 12, stride 2 → 4×4×12 outputs.
    assert.deepStrictEqual([dw?.macs, dw?.flops], [4 * 4 * 12 * 9, 2 * 4 * 4 * 12 * 9]);
    const inc = builds.inception();
    const concat = summary(inc).rows.find((r) => r.name === "i1_concat");
    assert.deepStrictEqual([concat?.flops, concat?.outputShape], [0, [4, 4, 8]]);
    mb.dispose();
    inc.dispose();
  });

  it("%summary FLOPs of a stripped MobileNetV2 stack fall with its channels", async () => {
    const restore = setHost(textHost(() => undefined));
    const m = builds.mobilenetV2();
    const r = await prune(m, { method: "structured", sparsity: 0.5, strip: true, report: false });
    const before = summary(m).totals.flops;
    const after = summary(r.model).totals.flops;
    assert.strictEqual(after, r.after.flops);
    assert.ok(after < 0.5 * before, `${after} of ${before}`);
    removeMasks(r.model);
    r.model.dispose();
    m.dispose();
    setHost(restore);
  });

  for (const name of ["resnet", "mobilenetV2", "inception"] as const) {
    it(`%optimize folds every batch norm of ${name}'s branches into its conv; outputs equal to 1e-5`, async () => {
      const m = builds[name]();
      const x = tf.randomUniform([3, 8, 8, 2], -1, 1, "float32", 5);
      const r = await optimize(m, { measure: false });
      const bns = m.layers.filter((l) => l.getClassName() === "BatchNormalization").map((l) => l.name);
      assert.deepStrictEqual(r.folded.map((f) => f.batchNorm).sort(), [...bns].sort());
      for (const f of r.folded) assert.strictEqual(f.into, m.getLayer(f.batchNorm).inboundNodes[0].inboundLayers[0].name);
      assert.ok(!r.model.layers.some((l) => l.getClassName() === "BatchNormalization"));
      const gap = maxDiff(predictValues(r.model, x), predictValues(m, x));
      assert.ok(gap <= 1e-5, `optimized vs original: ${gap}`);
      if (name === "resnet") {
        // The ReLU after an Add has no kernel to fuse into, and says so.
        assert.deepStrictEqual(r.skipped.find((s) => s.layer === "s1b1_relu"), { layer: "s1b1_relu", reason: "it follows s1b1_add (Add), which has no kernel to take it" });
      }
      x.dispose();
      r.model.dispose();
      m.dispose();
    });
  }
});
