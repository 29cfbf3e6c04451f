import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { promises as fs } from "fs";
import * as os from "os";
import * as path from "path";
import { mulberry32 } from "../../../plugins/data/random";
import { csrCount } from "../../../plugins/measure/sparse";
import { loadCompact } from "../../../plugins/quantize/export";
import { quantizeKmeans } from "../../../plugins/quantize/kmeans";
import { quantize } from "../../../plugins/quantize/quantize";
import { decode } from "../../../plugins/quantize/quantized";
import { LayerConfig, quantizeTensor } from "../../../plugins/quantize/quantizer";
import { csrEntropyBits, csrStreams, sparseBits } from "../../../plugins/quantize/sparse-size";

/** A [rows, cols] Gaussian-ish tensor with `sparsity` of its entries set to exactly 0. */
function prunedValues(n: number, sparsity: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => {
    const v = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()) * 0.1;
    return r() < sparsity ? 0 : v === 0 ? 0.01 : v;
  });
}

const zerosOf = (v: Float32Array) => Array.from(v, (x, i) => (x === 0 ? i : -1)).filter((i) => i >= 0);

describe("quantize of pruned tensors (zeros stay zeros)", () => {
  const shape = [60, 20];
  const w = prunedValues(1200, 0.9, 3);
  const zeros = zerosOf(w);

  it("the test tensor is about 90% sparse", () => {
    assert.ok(zeros.length > 1040 && zeros.length < 1120, `${zeros.length} zeros`);
  });

  const configs: [string, LayerConfig][] = [
    ["kmeans 2-bit", { scheme: "kmeans", bits: 2, perChannel: false, init: "linear" }],
    ["kmeans 5-bit", { scheme: "kmeans", bits: 5, perChannel: false, init: "linear" }],
    ["kmeans 4-bit optimal", { scheme: "kmeans", bits: 4, perChannel: false, init: "optimal" }],
    ["pow2 4-bit", { scheme: "pow2", bits: 4, perChannel: false, init: "linear" }],
    ["affine 4-bit", { scheme: "affine", bits: 4, perChannel: false, init: "linear" }],
    ["affine 8-bit per channel", { scheme: "affine", bits: 8, perChannel: true, init: "linear" }],
    ["symmetric 3-bit", { scheme: "symmetric", bits: 3, perChannel: false, init: "linear" }],
    ["symmetric 8-bit per channel", { scheme: "symmetric", bits: 8, perChannel: true, init: "linear" }],
    ["binary", { scheme: "binary", bits: 1, perChannel: false, init: "linear" }],
    ["ternary", { scheme: "ternary", bits: 2, perChannel: false, init: "linear" }],
  ];
  for (const [label, config] of configs) {
    it(`${label}: every pruned zero decodes to +0, and decode() agrees`, () => {
      const q = quantizeTensor(w, shape, config, 1);
      for (const i of zeros) assert.ok(Object.is(q.values[i], 0), `${label}: index ${i} became ${q.values[i]}`);
      const d = decode(q);
      assert.ok(d.every((v, i) => Object.is(v, q.values[i])), `${label}: decode differs`);
    });
  }

  for (const bits of [1, 3, 6]) {
    it(`kmeans ${bits}-bit keeps exactly the zeros and at most 2^${bits} non-zero values`, () => {
      const q = quantizeKmeans(w, shape, { bits });
      assert.deepStrictEqual(zerosOf(q.values), zeros);
      assert.deepStrictEqual(Array.from(q.kept as Uint8Array), Array.from(w, (v) => (v === 0 ? 0 : 1)));
      const distinct = new Set(q.values.filter((v) => v !== 0));
      assert.ok(distinct.size <= 2 ** bits && distinct.size >= Math.min(2 ** bits, 20), `${distinct.size} values`);
      // The old behaviour clustered the zeros too: no centroid may sit near 0 just for them.
      const cb = q.decoding.kind === "codebook" ? q.decoding.codebook : new Float32Array();
      assert.ok(Math.min(...Array.from(cb, Math.abs)) > 1e-4, `codebook ${cb}`);
    });
  }

  it("binary keeps the zeros out and takes α from the survivors", () => {
    const q = quantizeTensor(w, shape, { scheme: "binary", bits: 1, perChannel: false, init: "linear" }, 1);
    assert.deepStrictEqual(zerosOf(q.values), zeros);
    for (let c = 0; c < 20; c++) {
      let sum = 0;
      let n = 0;
      for (let r = 0; r < 60; r++) if (w[r * 20 + c] !== 0) (sum += Math.abs(w[r * 20 + c])), n++;
      const alpha = Math.fround(sum / n);
      for (let r = 0; r < 60; r++) {
        const i = r * 20 + c;
        if (w[i] !== 0) assert.strictEqual(q.values[i], w[i] >= 0 ? alpha : -alpha);
      }
    }
  });

  it("a dense tensor (no zeros) has no kept mask and keeps the old dense accounting", () => {
    const dense = w.map((v) => (v === 0 ? 0.05 : v));
    assert.strictEqual(quantizeKmeans(dense, shape, { bits: 3 }).kept, undefined);
  });

  it("sparseBits equals a hand count on a 4×2 kernel (1-bit codes, 5-bit gaps)", () => {
    // Kernel [inputs 4, units 2]: unit 0 has inputs 0 and 3 (1, 2), unit 1 has input 1 (−1).
    const v = new Float32Array([1, 0, 0, -1, 0, 0, 2, 0]);
    const q = quantizeKmeans(v, [4, 2], { bits: 1 });
    assert.deepStrictEqual(Array.from((q.decoding as { codebook: Float32Array }).codebook), [-1, 1.5]);
    const s = sparseBits(q, "fc/kernel", true);
    // 3 entries × (1 code bit + 5 gap bits) + 3 row pointers × 2 bits (offsets 0..3) = 24 bits = 3 bytes; codebook 2 × 32.
    assert.strictEqual(s.bits, 3 * 8 + 64);
    // Huffman tries every gap width. At 2 bits (span 4) no gap needs a filler: codes [1, 1, 0] (alphabet 3, two
    // used) → 1 + 1 + 1 bits; gaps−1 [0, 2, 1] → lengths 1, 2, 2 → 5 bits; 5 used symbols × 8 bits of tables;
    // 3 pointers × 2 bits; 4 bits naming the width: 58 bits. Wider gaps cost the same (the narrowest wins ties);
    // 1 bit (span 2) needs a filler for gap 3: codes [1, F, 1, 0] → 1 + 2 + 1 + 2 = 6 bits, gaps−1 [0, 1, 0, 1] → 4,
    // tables 5 × 8, pointers 3 × 3, width 4: 63 bits. So 58 bits with a row per unit.
    // One row over the whole kernel in row-major order (elements 0, 3, 6) does better: codes [1, 0, 1] → 3 bits,
    // gaps−1 [0, 2, 2] → 3 bits, 4 used symbols × 8, 2 pointers × 2 bits, 4 bits naming the width: 46 bits
    // → 6 bytes; + codebook.
    const st = csrStreams(q, "fc/kernel");
    assert.deepStrictEqual([Array.from(st.codes), Array.from(st.gaps)], [[1, 1, 0], [0, 2, 1]]);
    const st1 = csrStreams(q, "fc/kernel", 1);
    assert.deepStrictEqual([Array.from(st1.codes), Array.from(st1.gaps)], [[1, 2, 1, 0], [0, 1, 0, 1]]);
    const flat = csrStreams(q, "fc/kernel", 2, 1);
    assert.deepStrictEqual([Array.from(flat.codes), Array.from(flat.gaps), flat.rows], [[1, 0, 1], [0, 2, 2], 1]);
    assert.strictEqual(s.huffmanBits, 6 * 8 + 64);
    assert.deepStrictEqual([s.nonZeros, s.fillers, s.indexBits, s.huffmanIndexBits, s.huffmanRows], [3, 0, 5, 2, 1]);
    assert.ok(Number.isNaN(sparseBits(q, "fc/kernel", false).huffmanIndexBits));
  });

  it("csrEntropyBits: the order-0 entropy of both streams on the 4×2 kernel, a floor under the Huffman streams", () => {
    const v = new Float32Array([1, 0, 0, -1, 0, 0, 2, 0]);
    const q = quantizeKmeans(v, [4, 2], { bits: 1 });
    // Best layout: one row, 2-bit gaps: codes [1, 0, 1] and gaps−1 [0, 2, 2] each hold one symbol twice and one
    // once, 2·log2(3/2) + log2(3) = 3·log2(3) − 2 bits each. Per-unit rows: codes the same, gaps [0, 2, 1] all
    // different, 3·log2(3): more. One-bit gaps need fillers: more again.
    const e = csrEntropyBits(q, "fc/kernel");
    assert.ok(Math.abs(e.bits - 2 * (3 * Math.log2(3) - 2)) < 1e-12, String(e.bits));
    assert.deepStrictEqual([e.indexBits, e.rows, e.entries], [2, 1, 3]);
    assert.ok(Math.abs(e.codeBitsPerEntry - (3 * Math.log2(3) - 2) / 3) < 1e-12);
    // The Huffman streams of the same layout: 3 + 3 bits, at least the entropy.
    assert.ok(e.bits <= 6);
  });

  it("filler zeros: a gap beyond 2^5 adds an entry with the filler symbol 2^bits", () => {
    const v = new Float32Array(40);
    v[0] = 0.5;
    v[39] = -0.5;
    const q = quantizeKmeans(v, [40, 1], { bits: 2 });
    const st = csrStreams(q, "fc/kernel");
    assert.deepStrictEqual(Array.from(st.codes), [q.codes[0], 4, q.codes[39]]);
    assert.deepStrictEqual(Array.from(st.gaps), [0, 31, 6]);
    const csr = csrCount(v, [40, 1], { valueBits: 2, indexBits: 5 });
    assert.strictEqual(csr.entries, 3);
    const k = (q.decoding as { codebook: Float32Array }).codebook.length;
    assert.strictEqual(sparseBits(q, "fc/kernel", false).bits, 8 * csr.bytes + 32 * k);
  });

  it("quantize() on a pruned Dense model: zeros survive bit-exactly, sizes follow the hand count", async () => {
    await tf.setBackend("cpu");
    const model = tf.sequential({ layers: [tf.layers.dense({ name: "fc", units: 2, inputShape: [4] })] });
    model.getLayer("fc").setWeights([tf.tensor2d([1, 0, 0, -1, 0, 0, 2, 0], [4, 2]), tf.tensor1d([0.5, -0.25])]);
    const r = await quantize(model, { scheme: "kmeans", bits: 1, huffman: true });
    const k = Array.from(r.model.getLayer("fc").getWeights()[0].dataSync());
    assert.ok([1, 2, 4, 5, 7].every((i) => Object.is(k[i], 0)), `kernel ${k}`);
    const row = r.layers.find((l) => l.weight === "fc/kernel");
    assert.deepStrictEqual([row?.storage, row?.coded, row?.quantKB, row?.huffmanKB], ["csr", 3, 88 / 8 / 1024, 112 / 8 / 1024]);
    // The bias stays float32 (registry.ts): 2 × 4 bytes.
    assert.strictEqual(r.sizes.quantizedBytes, 88 / 8 + 8);
    assert.strictEqual(r.sizes.floatBytes, 40);
    r.model.dispose();
    model.dispose();
  });

  it("the compact format stores only the survivors' codes and a mask, and loads bit-exactly", async () => {
    await tf.setBackend("cpu");
    const model = tf.sequential({ layers: [tf.layers.dense({ name: "fc", units: 20, inputShape: [60] })] });
    model.getLayer("fc").setWeights([tf.tensor2d(w, [60, 20]), tf.zeros([20])]);
    const dir = path.join(await fs.mkdtemp(path.join(os.tmpdir(), "slimlab-qp-")), "m");
    const r = await quantize(model, { scheme: "kmeans", bits: 4, save: dir });
    const meta = JSON.parse(await fs.readFile(path.join(dir, "quantized.json"), "utf8"));
    const entry = meta.weights.find((e: { name: string }) => e.name === "fc/kernel");
    assert.deepStrictEqual(entry.kept, { count: 1200 - zeros.length, maskBytes: 150 });
    assert.strictEqual(entry.bytes, Math.ceil(((1200 - zeros.length) * 4) / 8));
    const loaded = await loadCompact(dir);
    const a = loaded.model.getLayer("fc").getWeights()[0].dataSync();
    const b = r.model.getLayer("fc").getWeights()[0].dataSync();
    assert.ok(a.every((v, i) => Object.is(v, b[i])));
    [r.model, loaded.model, model].forEach((m) => m.dispose());
    await fs.rm(path.dirname(dir), { recursive: true, force: true });
  });

  it("layerBits sets bits per layer; an unknown layer fails with E_ARG naming it", async () => {
    await tf.setBackend("cpu");
    const model = tf.sequential({ layers: [tf.layers.dense({ name: "fc1", units: 20, inputShape: [60] }), tf.layers.dense({ name: "fc2", units: 3 })] });
    model.getLayer("fc1").setWeights([tf.tensor2d(w, [60, 20]), tf.zeros([20])]);
    const r = await quantize(model, { scheme: "kmeans", bits: 5, layerBits: { fc1: 2 } });
    assert.deepStrictEqual(r.layers.map((l) => [l.weight, l.bits]), [["fc1/kernel", 2], ["fc2/kernel", 5]]);
    await assert.rejects(quantize(model, { scheme: "kmeans", bits: 5, layerBits: { fc3: 2 } }), (e: Error & { code?: string }) => {
      assert.strictEqual(e.code, "E_ARG");
      assert.strictEqual(e.message, 'quantize: layerBits names layer "fc3", which is not quantized here (did you mean fc1?); quantized layers: fc1, fc2');
      return true;
    });
    await assert.rejects(quantize(model, { scheme: "kmeans", layerBits: { fc1: 9 } }), /bits 9 is not allowed for scheme kmeans/);
    r.model.dispose();
    model.dispose();
  });
});
