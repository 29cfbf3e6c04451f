import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { builtinPrunables } from "../../../plugins/prune/registry";
import { layerRows } from "../../../plugins/prune/report";
import { gzipBytes, modelFlops, sparseBytes, sparseEntries } from "../../../plugins/prune/sizes";
import { useCpu } from "./helpers";

describe("prune/sizes", () => {
  before(useCpu);

  it("counts relative-index entries with filler zeros as Deep Compression does", () => {
    const v = new Float32Array(20);
    [1, 4, 15].forEach((i) => (v[i] = 1));
    // 3-bit gaps reach 8: gaps 2, 3 and 11 (one filler) → 4 entries of 35 bits.
    assert.strictEqual(sparseEntries(v, 3), 4);
    assert.strictEqual(sparseBytes(v, 3), Math.ceil((4 * 35) / 8));
    const edge = new Float32Array(20);
    edge[7] = 1; // gap 8 from the start: representable
    edge[16] = 1; // gap 9: one filler
    assert.strictEqual(sparseEntries(edge, 3), 3);
    const fc = new Float32Array(100);
    fc[39] = fc[79] = 2; // 5-bit gaps reach 32: gaps 40 and 40 → 2 entries each
    assert.strictEqual(sparseBytes(fc, 5), Math.ceil((4 * 37) / 8));
    assert.strictEqual(sparseBytes(new Float32Array(50), 8), 0);
  });

  it("gzip shrinks zeros, not noise", () => {
    const noise = tf.tidy(() => tf.randomUniform([4000], -1, 1, "float32", 1).dataSync() as Float32Array);
    assert.ok(gzipBytes([new Float32Array(4000)]) < 200);
    assert.ok(gzipBytes([noise]) > 12000);
  });

  it("per-layer rows: params, non-zeros, raw, sparse bytes (5-bit fc, 8-bit conv), total last", () => {
    const m = tf.sequential({
      layers: [
        tf.layers.conv2d({ name: "c", filters: 2, kernelSize: 1, inputShape: [2, 2, 2], useBias: false }),
        tf.layers.flatten({ name: "f" }),
        tf.layers.dense({ name: "d", units: 2 }),
      ],
    });
    const c = tf.tensor4d([1, 0, 0, 3], [1, 1, 2, 2]);
    const k = tf.tensor2d(Array.from({ length: 16 }, (_, i) => (i === 0 || i === 15 ? 1 : 0)), [8, 2]);
    const b = tf.tensor1d([0, 5]);
    m.getLayer("c").setWeights([c]);
    m.getLayer("d").setWeights([k, b]);
    const rows = layerRows(m, builtinPrunables());
    assert.deepStrictEqual(rows.map((r) => [r.layer, r.params, r.nonZeros, r.rawBytes, r.sparseBytes]), [
      ["c", 4, 2, 16, Math.ceil((2 * 40) / 8)],
      ["d", 18, 3, 72, Math.ceil((2 * 37) / 8) + 8],
      ["(total)", 22, 5, 88, 10 + 18],
    ]);
    assert.ok(Math.abs(rows[1].sparsity - 15 / 18) < 1e-12);
    tf.dispose([c, k, b]);
    m.dispose();
  });

  it("FLOPs of Dense and conv layers: 2 per multiply-add", () => {
    const m = tf.sequential({
      layers: [
        tf.layers.conv2d({ filters: 6, kernelSize: 3, inputShape: [8, 8, 3] }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10 }),
      ],
    });
    assert.strictEqual(modelFlops(m), 2 * 36 * 6 * 27 + 2 * 216 * 10);
    m.dispose();
  });
});
