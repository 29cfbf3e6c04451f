import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import { loadCompact, saveQuantized } from "../../../plugins/quantize/export";
import { quantize } from "../../../plugins/quantize/quantize";
import { decode } from "../../../plugins/quantize/quantized";
import { quantizeTensor } from "../../../plugins/quantize/quantizer";
import { builtinQuantizables } from "../../../plugins/quantize/registry";
import { channelView, rint } from "../../../plugins/quantize/scheme";

const f = Math.fround;

/**
 * A DepthwiseConv2D kernel [kh 2, kw 1, in 2, m 2], output channel c = i·2 + j
 * at [h, 0, i, j]; row-major, so element (h, i, j) sits at h·4 + i·2 + j.
 * Output channels: c0 {1, −0.5}, c1 {0.2, 0.1}, c2 {−4, 2}, c3 {0.03, −0.01}.
 */
const KERNEL = Float32Array.from([1, 0.2, -4, 0.03, -0.5, 0.1, 2, -0.01]);
const SHAPE = [2, 1, 2, 2];
/** The elements of output channel c: flat indices c and c + 4. */
const members = (c: number) => [c, c + 4];

describe("quantize/quantizer: per-output-channel scales", () => {
  before(async () => {
    await tf.setBackend("cpu");
  });

  it("the depthwise kernel's channel view flattens in·m onto one axis", () => {
    assert.deepStrictEqual(channelView(SHAPE, 2), [2, 1, 4]);
    assert.deepStrictEqual(channelView([784, 300], 1), [784, 300]);
    assert.deepStrictEqual(channelView([3, 3, 8, 16], 3), [3, 3, 8, 16]);
    assert.deepStrictEqual(builtinQuantizables().weightsOf("DepthwiseConv2D"), [{ role: "depthwise_kernel", channelAxis: 2 }]);
  });

  it("symmetric 8-bit per channel on a depthwise kernel with multiplier 2: one scale per output channel, by hand", () => {
    const q = quantizeTensor(KERNEL, SHAPE, { scheme: "symmetric", bits: 8, perChannel: true, init: "linear" }, 2);
    assert.deepStrictEqual(q.shape, SHAPE);
    assert.ok(q.decoding.kind === "linear");
    const d = q.decoding;
    // S_c = max|w_c| / (2^7 − 1) in float32; per input channel there would be 2 scales (1/127 and 4/127).
    const maxAbs = [1, 0.2, 4, 0.03].map(f);
    assert.deepStrictEqual(Array.from(d.scale), maxAbs.map((m) => f(m / 127)));
    for (let c = 0; c < 4; c++) {
      const s = d.scale[c];
      assert.strictEqual(d.min[c], -128 * s);
      for (const i of members(c)) {
        const code = Math.min(255, Math.max(1, rint((KERNEL[i] - d.min[c]) / s)));
        assert.strictEqual(q.codes[i], code, `code of element ${i} (channel ${c})`);
        assert.strictEqual(q.values[i], f(code * s + d.min[c]));
        assert.ok(Math.abs(q.values[i] - KERNEL[i]) <= s / 2 + 1e-9, `element ${i} within S/2 of channel ${c}`);
      }
    }
    // c3's small weights keep their precision: 0.03 is the top code, −0.01 is −42·S3.
    assert.strictEqual(q.codes[3], 255);
    assert.strictEqual(q.codes[7], 128 - 42);
    assert.deepStrictEqual(Array.from(decode(q)), Array.from(q.values), "decode reads the flattened channels");
  });

  it("binary and ternary take α per output channel of a depthwise kernel", () => {
    const b = quantizeTensor(KERNEL, SHAPE, { scheme: "binary", bits: 1, perChannel: false, init: "linear" }, 2);
    assert.ok(b.decoding.kind === "linear");
    // α_c = mean |w_c| over the channel's two weights (0.75, 0.15, 3, 0.02); scale 2α.
    const alpha = (c: number) => f((Math.abs(KERNEL[c]) + Math.abs(KERNEL[c + 4])) / 2);
    assert.deepStrictEqual(Array.from(b.decoding.scale), [0, 1, 2, 3].map((c) => 2 * alpha(c)));
    assert.ok(Math.abs(b.decoding.scale[0] - 1.5) < 1e-6 && Math.abs(b.decoding.scale[3] - 0.04) < 1e-6);
    assert.deepStrictEqual(Array.from(decode(b)), Array.from(b.values));
    const t = quantizeTensor(KERNEL, SHAPE, { scheme: "ternary", bits: 2, perChannel: false, init: "linear" }, 2);
    assert.ok(t.decoding.kind === "linear" && t.decoding.scale.length === 4);
    assert.deepStrictEqual(Array.from(decode(t)), Array.from(t.values));
  });

  it("quantize() on a DepthwiseConv2D with depthMultiplier 2 scales each output channel, and the compact file decodes the same", async () => {
    const model = tf.sequential({ layers: [tf.layers.depthwiseConv2d({ name: "dw", kernelSize: [2, 1], depthMultiplier: 2, useBias: false, inputShape: [3, 3, 2] })] });
    model.getLayer("dw").setWeights([tf.tensor(KERNEL, SHAPE)]);
    const r = await quantize(model, { scheme: "symmetric", bits: 8, perChannel: true });
    const q = r.quantized.get("dw/depthwise_kernel");
    assert.ok(q?.decoding.kind === "linear");
    assert.deepStrictEqual(Array.from(q.decoding.scale), [1, 0.2, 4, 0.03].map((m) => f(f(m) / 127)));
    assert.deepStrictEqual(Array.from(r.model.getLayer("dw").getWeights()[0].dataSync()), Array.from(q.values));
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "slimlab-dw-"));
    try {
      assert.strictEqual((await saveQuantized(r.model, r.quantized, dir, true)).format, "compact");
      const back = await loadCompact(dir);
      assert.deepStrictEqual(Array.from(back.weights.get("dw/depthwise_kernel")?.values as Float32Array), Array.from(q.values));
      assert.deepStrictEqual(Array.from(back.model.getLayer("dw").getWeights()[0].dataSync()), Array.from(q.values));
      back.model.dispose();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    r.model.dispose();
    model.dispose();
  });
});
