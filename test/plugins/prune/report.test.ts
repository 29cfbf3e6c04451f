import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { gzipSync } from "zlib";
import { size } from "../../../plugins/measure/size";
import { summary } from "../../../plugins/measure/summary";
import { lenet5 } from "../../../plugins/models/zoo";
import { removeMasks } from "../../../plugins/prune/masks";
import { prune } from "../../../plugins/prune/prune";
import { layerRows, pruneNote, summarize } from "../../../plugins/prune/report";
import { quietHost, useCpu } from "./helpers";

/** conv c (2 filters of 1×1×2, no bias) → flatten → Dense d (8 → 2), with known zeros. */
function known(): tf.Sequential {
  const m = tf.sequential({
    name: "known",
    layers: [
      tf.layers.conv2d({ name: "c", filters: 2, kernelSize: 1, inputShape: [2, 2, 2], useBias: false }),
      tf.layers.flatten({ name: "f" }),
      tf.layers.dense({ name: "d", units: 2 }),
    ],
  });
  const values = [
    tf.tensor4d([1, 0, 0, 3], [1, 1, 2, 2]),
    tf.tensor2d(Array.from({ length: 16 }, (_, i) => (i === 0 || i === 15 ? 1 : 0)), [8, 2]),
    tf.tensor1d([0, 5]),
  ];
  m.getLayer("c").setWeights([values[0]]);
  m.getLayer("d").setWeights(values.slice(1));
  tf.dispose(values);
  return m;
}

describe("prune/report: measure's sizes and FLOPs", () => {
  let restore: () => void;
  before(async () => {
    await useCpu();
    restore = quietHost().restore;
  });
  after(() => restore());

  it("per-layer rows count sparse bytes as relative-index CSR with row pointers, by hand", () => {
    const m = known();
    const rows = layerRows(m);
    // c: kernel [1, 1, 2, 2] = 2 rows (filters) × 2 columns; row 0 has column 0, row 1 column 1 (gaps 1, 2).
    //    8-bit gaps: 2 entries × 40 bits + 3 row pointers × 2 bits (offsets 0..2) = 86 bits → 11 bytes.
    // d: kernel [8, 2] = 2 rows × 8 columns; row 0 has column 0, row 1 column 7 (gaps 1, 8 ≤ 32).
    //    5-bit gaps: 2 × 37 + 3 × 2 = 80 bits = 10 bytes; bias dense: 8 bytes.
    assert.deepStrictEqual(rows.map((r) => [r.layer, r.kind, r.params, r.nonZeros, r.rawBytes, r.sparseBytes]), [
      ["c", "Conv2D", 4, 2, 16, 11],
      ["d", "Dense", 18, 3, 72, 10 + 8],
      ["(total)", "", 22, 5, 88, 29],
    ]);
    assert.ok(Math.abs(rows[1].sparsity - 15 / 18) < 1e-12);
    m.dispose();
  });

  it("reports what %size and %summary report for the same model", async () => {
    const m = known();
    const s = summarize(m, layerRows(m), true);
    const sized = await size(m);
    assert.deepStrictEqual([s.params, s.nonZeros, s.rawBytes, s.sparseBytes, s.gzipBytes], [sized.params, sized.nonZeros, sized.float32Bytes, sized.sparseBytes, sized.gzipBytes]);
    // gzip: the weights file (c kernel, d kernel, d bias as float32, in that order) at level 9.
    const file = new Float32Array([1, 0, 0, 3, ...Array.from({ length: 16 }, (_, i) => (i === 0 || i === 15 ? 1 : 0)), 0, 5]);
    assert.strictEqual(s.gzipBytes, gzipSync(new Uint8Array(file.buffer), { level: 9 }).length);
    // FLOPs: conv 2·2·2 outputs × 2 MACs, Dense 2 outputs × 8: (16 + 16) × 2.
    assert.strictEqual(s.flops, 64);
    assert.strictEqual(s.flops, summary(m).totals.flops);
    assert.strictEqual(summarize(m, layerRows(m), false).gzipBytes, null);
    m.dispose();
  });

  it("LeNet-5: 4,600,720 FLOPs before and after magnitude pruning (pooling included), sizes as %size", async () => {
    const m = lenet5({ seed: 1 });
    const r = await prune(m, { sparsity: 0.9, report: false });
    assert.deepStrictEqual([r.before.flops, r.after.flops], [4600720, 4600720]);
    assert.strictEqual(r.before.gzipBytes, null);
    const sized = await size(r.model);
    assert.strictEqual(r.after.sparseBytes, sized.sparseBytes);
    assert.strictEqual(r.layers[r.layers.length - 1].sparseBytes, sized.sparseBytes);
    assert.strictEqual(r.after.nonZeros, sized.nonZeros);
    assert.match(r.note, /FLOPs \(4600720\) are unchanged/);
    removeMasks(r.model);
    r.model.dispose();
    m.dispose();
  });

  it("the note names the CSR and gzip sizes", () => {
    const before = { params: 100, nonZeros: 100, rawBytes: 400, gzipBytes: 380, sparseBytes: 400, flops: 200 };
    const after = { ...before, nonZeros: 10, gzipBytes: 90, sparseBytes: 60 };
    assert.match(pruneNote("magnitude", before, after, false), /What changed: gzip 0\.4 KB → 0\.1 KB, sparse CSR \(Deep Compression relative indices\) 0\.4 KB → 0\.1 KB\.$/);
  });
});
