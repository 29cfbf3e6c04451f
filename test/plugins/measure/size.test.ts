import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { gzipSync } from "zlib";
import { artifactsOf, gzipBytes, size } from "../../../plugins/measure/size";
import { csrCount, sparseRule, weightStorage } from "../../../plugins/measure/sparse";
import { assertNoLeak, assertRejectsSlimlab, onBackend } from "./helpers";
import { quantize } from "../../../plugins/quantize/quantize";
import { prune } from "../../../plugins/prune/prune";

/**
 * Dense 40 → 2 with known zeros. Column 0 (output 0) has non-zeros at
 * inputs 0 and 39; column 1 at input 31; bias [0.5, 0].
 */
function sparseDense(): tf.Sequential {
  const m = tf.sequential({ name: "sparse_dense", layers: [tf.layers.dense({ name: "fc", units: 2, inputShape: [40] })] });
  const k = new Float32Array(80);
  k[0 * 2 + 0] = 1;
  k[39 * 2 + 0] = 2;
  k[31 * 2 + 1] = 1;
  const values = [tf.tensor2d(k, [40, 2]), tf.tensor1d([0.5, 0])];
  m.layers[0].setWeights(values);
  tf.dispose(values);
  return m;
}

/** Conv2D 4×4×20 → 1 filter: 320 columns, non-zeros at flat 0, 300, 301; bias [0.25]. */
function sparseConv(): tf.Sequential {
  const m = tf.sequential({ name: "sparse_conv", layers: [tf.layers.conv2d({ name: "conv", filters: 1, kernelSize: 4, inputShape: [4, 4, 20] })] });
  const k = new Float32Array(320);
  k[0] = 1;
  k[300] = -1;
  k[301] = 3;
  const values = [tf.tensor4d(k, [4, 4, 20, 1]), tf.tensor1d([0.25])];
  m.layers[0].setWeights(values);
  tf.dispose(values);
  return m;
}

describe("measure/sparse", () => {
  it("counts relative indices with a filler zero past 2^bits (Deep Compression)", () => {
    // One row of 40 columns, non-zeros at 0 (gap 1) and 39 (gap 39 > 32: one filler).
    const v = new Float32Array(40);
    v[0] = 1;
    v[39] = 2;
    const c = csrCount(v, [40, 1], { valueBits: 32, indexBits: 5 });
    assert.deepStrictEqual([c.rows, c.columns, c.nonZeros, c.fillers, c.entries], [1, 40, 2, 1, 3]);
    // 2 row pointers address entries 0..3: 2 bits each.
    assert.strictEqual(c.bits, 3 * 37 + 2 * 2);
    assert.strictEqual(c.bytes, Math.ceil((3 * 37 + 4) / 8));
    assert.strictEqual(csrCount(v, [40, 1], { valueBits: 32, indexBits: 5, pointerBits: 32 }).bits, 3 * 37 + 2 * 32);
  });

  it("stores a gap of exactly 2^bits without a filler, 2^bits + 1 with one, and long gaps with several", () => {
    const at = (cols: number[], n: number) => {
      const v = new Float32Array(n);
      for (const c of cols) v[c] = 1;
      return v;
    };
    assert.strictEqual(csrCount(at([31], 40), [40, 1], { valueBits: 32, indexBits: 5 }).fillers, 0); // gap 32
    assert.strictEqual(csrCount(at([32], 40), [40, 1], { valueBits: 32, indexBits: 5 }).fillers, 1); // gap 33
    assert.strictEqual(csrCount(at([99], 100), [100, 1], { valueBits: 32, indexBits: 5 }).fillers, 3); // gap 100 = 3·32 + 4
    assert.strictEqual(csrCount(at([], 100), [100, 1], { valueBits: 32, indexBits: 5 }).bits, 2 * 1); // empty row: two 1-bit pointers only
  });

  it("takes rows from the trailing axes: one per output channel, c·m + j for depthwise kernels", () => {
    // Depthwise [1, 1, 2, 2]: 4 output channels of one column each; only channel c=1, j=0 (flat 2) is non-zero.
    const c = csrCount(new Float32Array([0, 0, 5, 0]), [1, 1, 2, 2], { valueBits: 8, indexBits: 8, rowAxes: 2, pointerBits: 16 });
    assert.deepStrictEqual([c.rows, c.columns, c.entries, c.bits], [4, 1, 1, 16 + 5 * 16]);
  });
});

/** The counting rules read row by row, column by column, as the file's header states them (the reference for csrCount's single pass). */
function csrByRows(values: ArrayLike<number>, rows: number, span: number): { nonZeros: number; fillers: number } {
  const columns = values.length / rows;
  let nonZeros = 0;
  let fillers = 0;
  for (let r = 0; r < rows; r++) {
    let last = -1;
    for (let c = 0; c < columns; c++) {
      if (values[c * rows + r] === 0) continue;
      fillers += Math.ceil((c - last) / span) - 1;
      nonZeros++;
      last = c;
    }
  }
  return { nonZeros, fillers };
}

describe("measure/sparse: the shared rule", () => {
  it("reads the values once in order yet counts each row's gaps: equals a row-by-row count", () => {
    // 300 × 7 at 97% zeros: long gaps in every row, several fillers per row at 5 bits.
    const v = new Float32Array(300 * 7);
    let seed = 3;
    for (let i = 0; i < v.length; i++) {
      seed = (seed * 16807) % 2147483647;
      if (seed % 100 < 3) v[i] = (seed % 7) - 3 || 1;
    }
    for (const bits of [2, 5, 8]) {
      const c = csrCount(v, [300, 7], { valueBits: 32, indexBits: bits });
      const ref = csrByRows(v, 7, 2 ** bits);
      assert.deepStrictEqual([c.nonZeros, c.fillers], [ref.nonZeros, ref.fillers], `${bits} bits`);
    }
    assert.ok(csrCount(v, [300, 7], { valueBits: 32, indexBits: 2 }).fillers > 0);
  });

  it("stores kernels in CSR (5-bit gaps fc, 8-bit conv) and everything else dense", () => {
    assert.deepStrictEqual(sparseRule("kernel", 2), { indexBits: 5, rowAxes: 1 });
    assert.deepStrictEqual(sparseRule("kernel", 4), { indexBits: 8, rowAxes: 1 });
    assert.deepStrictEqual(sparseRule("pointwise_kernel", 4), { indexBits: 8, rowAxes: 1 });
    assert.deepStrictEqual(sparseRule("depthwise_kernel", 4), { indexBits: 8, rowAxes: 2 });
    assert.strictEqual(sparseRule("bias", 1), undefined);
    assert.strictEqual(sparseRule("gamma", 1), undefined);
    // Kernel [40, 1], non-zeros at 0 and 39: gaps 1 and 39 (one filler) → 3 × 37 + 2 × 2 = 115 bits → 15 bytes.
    const k = new Float32Array(40);
    k[0] = k[39] = 1;
    assert.deepStrictEqual(weightStorage(k, [40, 1], "kernel", { valueBits: 32, bytesPerElement: 4 }), { nonZeros: 2, sparseBytes: 15, indexBits: 5 });
    assert.deepStrictEqual(weightStorage(Float32Array.from([0, 2, 0]), [3], "bias", { valueBits: 32, bytesPerElement: 4 }), { nonZeros: 1, sparseBytes: 12, indexBits: 0 });
  });

  it("gzips at level 6, chunks as one concatenated file", () => {
    const a = Float32Array.from({ length: 300 }, (_, i) => (i % 7 === 0 ? i : 0));
    const b = Float32Array.from([1, 2, 3]);
    const joined = new Uint8Array(4 * 303);
    joined.set(new Uint8Array(a.buffer), 0);
    joined.set(new Uint8Array(b.buffer), 1200);
    const expected = gzipSync(joined, { level: 6 }).length;
    assert.strictEqual(gzipBytes([a, b]), expected);
    assert.strictEqual(gzipBytes(joined), expected);
    assert.strictEqual(gzipBytes(joined.buffer), expected);
    assert.strictEqual(gzipBytes(a.subarray(0, 7)), gzipSync(new Uint8Array(a.buffer, 0, 28), { level: 6 }).length);
  });
});

describe("measure/size", () => {
  onBackend("cpu");

  it("counts float32, saved, gzip and sparse bytes of a Dense layer by hand", async () => {
    const m = sparseDense();
    const s = await size(m);
    assert.strictEqual(s.params, 82);
    assert.strictEqual(s.nonZeros, 4);
    assert.strictEqual(s.float32Bytes, 82 * 4);
    assert.strictEqual(s.savedBytes, 328);
    // Kernel rows: output 0 → gaps 1, 39 (+1 filler) = 3 entries; output 1 → gap 32 = 1 entry.
    // 4 entries × (32 + 5) bits + 3 row pointers × 3 bits (offsets 0..4) = 157 bits → 20 bytes; bias dense 8 bytes.
    assert.strictEqual(s.sparseBytes, 20 + 8);
    assert.deepStrictEqual(s.layers, [{ layer: "fc", params: 82, nonZeros: 4, float32Bytes: 328, savedBytes: 328, sparseBytes: 28, indexBits: 5 }]);
    const a = await artifactsOf(m);
    const raw = new Uint8Array(tf.io.CompositeArrayBuffer.join(a.weightData));
    assert.strictEqual(s.gzipBytes, gzipSync(raw, { level: 6 }).length);
    assert.ok(s.gzipBytes < 100, `gzip of mostly zeros is small, got ${s.gzipBytes}`);
    assert.ok(Math.abs(s.ratios.sparse - 328 / 28) < 1e-12);
    m.dispose();
  });

  it("uses 8-bit gaps for a Conv2D kernel", async () => {
    const m = sparseConv();
    const s = await size(m);
    // One row of 320 columns: gaps 1, 300 (> 256: one filler), 1 → 4 entries × 40 bits + 2 pointers × 3 = 166 bits → 21 bytes; bias 4.
    assert.strictEqual(s.sparseBytes, 21 + 4);
    assert.strictEqual(s.float32Bytes, 321 * 4);
    assert.strictEqual(s.layers[0].indexBits, 8);
    // --value-bits 5 (weight sharing): 4 × (5 + 8) + 6 = 58 bits → 8 bytes.
    assert.strictEqual((await size(m, { valueBits: 5 })).sparseBytes, 8 + 4);
    m.dispose();
  });

  it("counts a quantized manifest at its stored dtype (uint8: 1 byte per weight)", async () => {
    const m = sparseDense();
    const a = await artifactsOf(m);
    const specs = a.weightSpecs as tf.io.WeightsManifestEntry[];
    // kernel: q = w (min 0, scale 1); bias: q = w / 0.5.
    const kq = Uint8Array.from(m.layers[0].getWeights()[0].dataSync());
    const bq = Uint8Array.from([1, 0]);
    const data = new Uint8Array(82);
    data.set(kq, 0);
    data.set(bq, 80);
    const quantized: tf.io.ModelArtifacts = {
      modelTopology: a.modelTopology,
      weightSpecs: [
        { ...specs[0], quantization: { dtype: "uint8", min: 0, scale: 1 } },
        { ...specs[1], quantization: { dtype: "uint8", min: 0, scale: 0.5 } },
      ],
      weightData: data.buffer,
    };
    const s = await size(quantized);
    assert.strictEqual(s.model, "sparse_dense");
    assert.strictEqual(s.savedBytes, 82);
    assert.strictEqual(s.float32Bytes, 328);
    assert.strictEqual(s.nonZeros, 4);
    assert.strictEqual(s.gzipBytes, gzipSync(data, { level: 6 }).length);
    // Kernel: 4 entries × (8 + 5) + 3 × 3 = 61 bits → 8 bytes; bias as stored, 2 bytes.
    assert.strictEqual(s.sparseBytes, 8 + 2);
    m.dispose();
  });

  it("shows the four sizes and the layers", async () => {
    const m = sparseDense();
    const s = await size(m);
    const text = String(s.toMimeBundle()["text/plain"]);
    assert.match(text, /sparse CSR \(estimate\)\s+28\s+28 B\s+11\.7\d*×/);
    assert.match(text, /fc\s+82\s+4\s+328\s+328\s+28\s+5/);
    assert.match(String(s.toMimeBundle()["text/html"]), /<table class="dataframe">/);
    m.dispose();
  });

  it("rejects a non-model and a bad valueBits in one line", async () => {
    await assertRejectsSlimlab(size(42 as unknown as tf.LayersModel), "E_TYPE", /^size: expected a tf\.LayersModel, received 42; /);
    const m = sparseDense();
    await assertRejectsSlimlab(size(m, { valueBits: 0 }), "E_ARG", "size: valueBits got 0; allowed: an integer from 1 to 32");
    m.dispose();
  });

  it("does not leak tensors", async () => {
    const m = sparseConv();
    await assertNoLeak(() => size(m));
    m.dispose();
  });

  it("sizes a model quantize returned at its codes, as quantize reports it, not at its float32 values", async () => {
    const m = tf.sequential({ name: "q", layers: [tf.layers.dense({ name: "fc", units: 16, inputShape: [64], kernelInitializer: tf.initializers.randomNormal({ seed: 3 }) })] });
    const r8 = await quantize(m, { bits: 8 });
    const s8 = await size(r8.model);
    // Kernel: 1024 one-byte codes + one float32 scale and min; bias: 16 float32.
    assert.strictEqual(s8.savedBytes, 1024 + 8 + 64);
    assert.strictEqual(s8.savedBytes, r8.sizes.quantizedBytes);
    assert.strictEqual(s8.float32Bytes, 4 * 1040);
    assert.ok(s8.gzipBytes < (await size(m)).gzipBytes / 2.5, `gzip ${s8.gzipBytes} of codes vs ${(await size(m)).gzipBytes} of floats`);
    const r4 = await quantize(m, { bits: 4, perChannel: true });
    assert.strictEqual((await size(r4.model)).savedBytes, 1024 / 2 + 16 * 8 + 64);
    // A pruned, shared kernel: the sparse count is quantize's own CSR count.
    const pruned = (await prune(m, { sparsity: 0.9, report: false })).model;
    const shared = await quantize(pruned, { scheme: "kmeans", bits: 4 });
    assert.strictEqual((await size(shared.model)).sparseBytes, shared.sizes.quantizedBytes);
    // The input model is still sized as float32.
    assert.strictEqual((await size(m)).savedBytes, 4 * 1040);
    for (const x of [m, r8.model, r4.model, pruned, shared.model]) x.dispose();
  });
});
