import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { setHost, textHost } from "../../../plugins/core/host";
import { inception, mobilenetV2, resnet } from "../../../plugins/models/zoo";
import { quantize } from "../../../plugins/quantize/quantize";
import { maxAbsDiff, predict, randomizeBatchNorm } from "../../support/assertions";

const builds = {
  resnet: () => resnet({ widths: [4, 6], blocks: 1, inputShape: [8, 8, 2], seed: 1 }),
  mobilenetV2: () => mobilenetV2({ inputShape: [8, 8, 2], stem: 4, head: 10, seed: 2, stages: [{ channels: 4, blocks: 1, stride: 1, expansion: 1 }, { channels: 6, blocks: 2, stride: 2, expansion: 3 }] }),
  inception: () => inception({ inputShape: [8, 8, 2], stem: 4, blocks: [[2, 3, 4, 2]], seed: 3 }),
};

/** Output channels of a kernel: the last axis, or input channels × multiplier for a depthwise one. */
function channels(layer: tf.layers.Layer): number {
  const k = layer.weights[0].shape as number[];
  return layer.getClassName() === "DepthwiseConv2D" ? k[2] * k[3] : k[k.length - 1];
}

describe("quantize per channel on branching models", () => {
  let prev: ReturnType<typeof setHost>;
  before(async () => {
    await tf.setBackend("cpu");
    prev = setHost(textHost(() => undefined));
  });
  after(() => void setHost(prev));

  for (const name of ["resnet", "mobilenetV2", "inception"] as const) {
    it(`${name}: 8-bit symmetric per channel gives every kernel one scale per output channel, outputs close, the model untouched`, async () => {
      const m = builds[name]();
      m.layers.forEach((l, i) => l.getClassName() === "BatchNormalization" && randomizeBatchNorm(l, 60 + 4 * i));
      const before = m.getWeights().map((w) => Float32Array.from(w.dataSync()));
      const x = tf.randomUniform([3, 8, 8, 2], -1, 1, "float32", 6);
      const r = await quantize(m, { scheme: "symmetric", bits: 8, perChannel: true });
      const kernels = m.layers.filter((l) => ["Conv2D", "DepthwiseConv2D", "Dense"].includes(l.getClassName()));
      assert.strictEqual(r.quantized.size, kernels.length);
      for (const l of kernels) {
        const q = r.quantized.get(`${l.name}/${l.getClassName() === "DepthwiseConv2D" ? "depthwise_kernel" : "kernel"}`);
        const d = q?.decoding as { scale: ArrayLike<number> } | undefined;
        assert.strictEqual(d?.scale.length, channels(l), l.name);
      }
      if (name === "mobilenetV2") assert.ok(kernels.some((l) => l.getClassName() === "DepthwiseConv2D"));
      const gap = maxAbsDiff(predict(r.model, x), predict(m, x));
      assert.ok(gap > 0 && gap < 0.02, `8-bit per-channel output change ${gap}`);
      assert.deepStrictEqual(m.getWeights().map((w) => Float32Array.from(w.dataSync())), before);
      x.dispose();
      r.model.dispose();
      m.dispose();
    });
  }
});
