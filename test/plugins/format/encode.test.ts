import * as assert from "assert";
import { TensorEntry } from "../../../plugins/format/container";
import { decodeTensor } from "../../../plugins/format/decode";
import { EncodeOptions, encodeTensor } from "../../../plugins/format/encode";
import { csrCount } from "../../../plugins/measure/sparse";
import { quantizeBinary, quantizeTernary } from "../../../plugins/quantize/binary";
import { quantizeFloat16 } from "../../../plugins/quantize/float16";
import { huffmanCode } from "../../../plugins/quantize/huffman";
import { quantizeKmeans } from "../../../plugins/quantize/kmeans";
import { quantizeLinear } from "../../../plugins/quantize/linear";
import { paramBits, tensorBits } from "../../../plugins/quantize/metrics";
import { quantizePow2 } from "../../../plugins/quantize/pow2";
import { QuantizedTensor } from "../../../plugins/quantize/quantized";
import { quantizeTensor } from "../../../plugins/quantize/quantizer";
import { sparseBits } from "../../../plugins/quantize/sparse-size";
import { firstBitDifference, prunedValues } from "./helpers";

const FIXED: EncodeOptions = { huffman: false, sparse: false };
const HUFFMAN: EncodeOptions = { huffman: true, sparse: false };

/** Encodes, decodes, checks the decode is bit-exact, and returns entry and section. */
function roundTrip(name: string, shape: number[], q: QuantizedTensor | undefined, opts: EncodeOptions, values = q?.values as Float32Array): { entry: TensorEntry; section: Uint8Array } {
  const { entry, section } = encodeTensor(name, shape, values, q, opts);
  entry.length = section.length;
  const back = decodeTensor(entry, section, "t");
  const at = firstBitDifference(values, back);
  assert.strictEqual(at, -1, `${name}: index ${at} is ${values[at]} but decodes to ${back[at]}`);
  return { entry, section };
}

const f32 = (v: number[]) => Float32Array.from(v);
const bytesOf = (a: ArrayLike<number>, type: "f32" | "i32") => {
  const out = new Uint8Array(4 * a.length);
  const d = new DataView(out.buffer);
  Array.from(a).forEach((x, i) => (type === "f32" ? d.setFloat32(4 * i, x, true) : d.setInt32(4 * i, x, true)));
  return Array.from(out);
};

describe("format encodings: hand-counted bytes", () => {
  it("float32: 4 bytes per element, bit for bit (a NaN payload too)", () => {
    const v = f32([1, -2, 0.5, 0]);
    new Uint32Array(v.buffer)[3] = 0x7fc00123;
    const { entry, section } = roundTrip("fc/bias", [2, 2], undefined, FIXED, v);
    assert.deepStrictEqual([entry.values, entry.layout, section.length], [{ type: "float32" }, { type: "dense" }, 16]);
    assert.deepStrictEqual(Array.from(section), Array.from(new Uint8Array(v.buffer)));
  });

  it("float16: 2 bytes per element, the half bit patterns little-endian", () => {
    const q = quantizeFloat16(f32([0.1, -2, 65504]), [3]);
    const { section } = roundTrip("fc/kernel", [3], q, FIXED);
    assert.deepStrictEqual(Array.from(section), [0x66, 0x2e, 0x00, 0xc0, 0xff, 0x7b]);
  });

  it("affine 4-bit per tensor: float32 scale + int32 zero point, then codes two per byte, low nibble first", () => {
    const q = quantizeLinear(f32([-1, 0, 0.5, 2, 1]), [5], { bits: 4, mode: "affine" });
    const { entry, section } = roundTrip("fc/kernel", [5], q, FIXED);
    assert.deepStrictEqual(entry.values, { type: "linear", bits: 4, axes: null, params: "scale-zero" });
    const d = q.decoding as { scale: Float64Array; zeroPoint: Float64Array };
    const c = q.codes;
    assert.deepStrictEqual(Array.from(section), [...bytesOf(d.scale, "f32"), ...bytesOf(d.zeroPoint, "i32"), c[0] | (c[1] << 4), c[2] | (c[3] << 4), c[4]]);
  });

  it("per-channel affine 3-bit [2, 3]: 3 × 8 parameter bytes + ceil(6 × 3 / 8) = 27 bytes", () => {
    const q = quantizeLinear(f32([-1, 0.2, 3, 0.5, -0.7, 1]), [2, 3], { bits: 3, mode: "affine", axis: 1 });
    const { entry, section } = roundTrip("fc/kernel", [2, 3], q, FIXED);
    assert.deepStrictEqual([entry.values.type === "linear" && entry.values.axes, section.length], [[1, 2], 27]);
  });

  it("symmetric 8-bit: 8 + 4 bytes; affine 16-bit: 8 + 2 per element", () => {
    assert.strictEqual(roundTrip("a/kernel", [4], quantizeLinear(f32([-1, 0.25, 0.5, 1]), [4], { bits: 8, mode: "symmetric" }), FIXED).section.length, 12);
    assert.strictEqual(roundTrip("a/kernel", [3], quantizeLinear(f32([-1, 0.3, 7]), [3], { bits: 16, mode: "affine" }), FIXED).section.length, 14);
  });

  it("binary and ternary [4, 2] per channel: one float32 α per channel, then 1 or 2 bits per element", () => {
    const v = f32([0.5, -1, -0.25, 2, 1, 0.1, -0.3, -0.2]);
    const b = roundTrip("fc/kernel", [4, 2], quantizeBinary(v, [4, 2], 1), FIXED);
    assert.deepStrictEqual([b.entry.values, b.section.length], [{ type: "linear", bits: 1, axes: [1, 2], params: "alpha", alphaScale: 2, alphaZero: 0.5 }, 8 + 1]);
    const t = roundTrip("fc/kernel", [4, 2], quantizeTernary(v, [4, 2], 1), FIXED);
    assert.deepStrictEqual([t.entry.values, t.section.length], [{ type: "linear", bits: 2, axes: [1, 2], params: "alpha", alphaScale: 1, alphaZero: 1 }, 8 + 2]);
  });

  it("k-means 2-bit and pow2 3-bit: the codebook as float32, then the packed codes", () => {
    const k = quantizeKmeans(f32([0.1, 0.9, -0.5, 0.12, 0.88, -0.45]), [6], { bits: 2 });
    const K = (k.decoding as { codebook: Float32Array }).codebook.length;
    const ks = roundTrip("fc/kernel", [6], k, FIXED);
    assert.deepStrictEqual([ks.entry.values, ks.section.length], [{ type: "codebook", bits: 2, size: K }, 4 * K + 2]);
    const p = roundTrip("fc/kernel", [5], quantizePow2(f32([0.3, -0.7, 0, 1.9, -0.05]), [5], 3), FIXED);
    assert.deepStrictEqual([p.entry.values, p.section.length], [{ type: "codebook", bits: 3, size: 7 }, 7 * 4 + 2]);
  });

  it("pruned k-means 1-bit [4, 2] in CSR: 3 pointers × 2 bits + 3 × (1 + 5) bits = 3 bytes, as sparseBits counts", () => {
    // Unit 0 keeps inputs 0 and 3 (1, 2), unit 1 input 1 (−1); codebook [−1, 1.5].
    const q = quantizeKmeans(f32([1, 0, 0, -1, 0, 0, 2, 0]), [4, 2], { bits: 1 });
    const { entry, section } = roundTrip("fc/kernel", [4, 2], q, FIXED);
    assert.deepStrictEqual(entry.layout, { type: "csr", rows: 2, entries: 3, gapBits: 5, pointerBits: 2 });
    // Pointers 0, 2, 3 (00 01 11 from bit 0 on); entries (code, gap field): (1, 0), (1, 2), (0, 1).
    assert.deepStrictEqual(Array.from(section), [...bytesOf([-1, 1.5], "f32"), 0b01111000, 0b01010000, 0b00001000]);
    assert.strictEqual(8 * section.length, sparseBits(q, "fc/kernel", false).bits);
  });

  it("CSR fillers: a gap of 39 takes one filler (31 columns), a gap of exactly 32 too (the count needs none)", () => {
    for (const [far, counted, stored] of [[39, 3, 3], [32, 2, 3]]) {
      const v = new Float32Array(40);
      v[0] = 0.5;
      v[far] = -0.5;
      const q = quantizeKmeans(v, [40, 1], { bits: 2 });
      const { entry, section } = roundTrip("fc/kernel", [40, 1], q, FIXED);
      const K = (q.decoding as { codebook: Float32Array }).codebook.length;
      assert.strictEqual(csrCount(v, [40, 1], { valueBits: 2, indexBits: 5 }).entries, counted);
      assert.deepStrictEqual(entry.layout, { type: "csr", rows: 1, entries: stored, gapBits: 5, pointerBits: 2 });
      assert.strictEqual(section.length, 4 * K + Math.ceil((2 * 2 + stored * 7) / 8));
    }
  });

  it("dense Huffman, k-means 1-bit [1, 1, 1, −1]: table 3 + 2 × 6 bits, codes 4 bits → 3 bytes after the codebook", () => {
    const q = quantizeKmeans(f32([1, 1, 1, -1]), [4], { bits: 1 });
    const { entry, section } = roundTrip("fc/kernel", [4], q, HUFFMAN);
    assert.deepStrictEqual([entry.layout, section.length], [{ type: "dense-huffman" }, 8 + 3]);
  });

  it("CSR Huffman of the [4, 2] kernel: one row, 15 + 17 table bits, 4 pointer bits, 6 stream bits = 6 bytes at the counted 2-bit gap width", () => {
    const q = quantizeKmeans(f32([1, 0, 0, -1, 0, 0, 2, 0]), [4, 2], { bits: 1 });
    const { entry, section } = roundTrip("fc/kernel", [4, 2], q, HUFFMAN);
    // One row over the kernel (elements 0, 3, 6; codes 1, 0, 1; gaps − 1: 0, 2, 2) beats a row per unit (see the count).
    // Tables: codes 0 and 1 used: gamma(3) + 2 × (gamma(1) + 5) = 15 bits; gaps 0 and 2: gamma(3) + (1 + 5) + (3 + 5) = 17.
    assert.deepStrictEqual(entry.layout, { type: "csr-huffman", rows: 1, entries: 3, gapBits: 2, pointerBits: 2 });
    assert.strictEqual(section.length, 8 + 6);
    // The count: 46 bits (6 bytes) + codebook; the file's tables cost 6–8 bits per used symbol instead of 8.
    assert.strictEqual(sparseBits(q, "fc/kernel", true).huffmanBits, 48 + 64);
  });

  it("depthwise per output channel: a [3, 3, 2, 2] kernel has 2 × 2 scales, stored as channel axes 2–3", () => {
    const v = prunedValues(36, 1, 5).map((x, i) => x * (1 + (i % 4)));
    const q = quantizeTensor(v, [3, 3, 2, 2], { scheme: "symmetric", bits: 4, perChannel: true, init: "linear" }, 2);
    const { entry, section } = roundTrip("dw/depthwise_kernel", [3, 3, 2, 2], q, FIXED);
    assert.deepStrictEqual(entry.values, { type: "linear", bits: 4, axes: [2, 4], params: "scale-zero" });
    assert.strictEqual(section.length, 4 * 8 + 36 / 2);
    // Stored per input channel (2 scales, axis 2 alone) the same file format gives axes 2–2.
    const perInput = quantizeLinear(v, [3, 3, 2, 2], { bits: 4, mode: "symmetric", axis: 2 });
    assert.deepStrictEqual(roundTrip("dw/depthwise_kernel", [3, 3, 2, 2], perInput, FIXED).entry.values, { type: "linear", bits: 4, axes: [2, 3], params: "scale-zero" });
  });

  it("scales that no compact form reproduces are stored as float64 scale and min", () => {
    const q = quantizeLinear(f32([-1, 0, 2]), [3], { bits: 4, mode: "affine" });
    const d = q.decoding as { min: Float64Array };
    d.min[0] = -0.1234567891; // not −Z·S for any integer Z
    q.values = Float32Array.from(q.codes, (c) => c * (q.decoding as { scale: Float64Array }).scale[0] + d.min[0]);
    const { entry, section } = roundTrip("fc/kernel", [3], q, FIXED);
    assert.deepStrictEqual([entry.values.type === "linear" && entry.values.params, section.length], ["scale-min", 16 + 2]);
  });
});

describe("format sizes against slimlab's accounting (LeNet-300-100 shapes)", () => {
  const layers = [
    { name: "fc1/kernel", shape: [784, 300], keep: 0.06 },
    { name: "fc2/kernel", shape: [300, 100], keep: 0.09 },
    { name: "fc3/kernel", shape: [100, 10], keep: 0.26 },
  ];
  const pruned = layers.map((l, i) => ({ ...l, q: quantizeKmeans(prunedValues(l.shape[0] * l.shape[1], l.keep, 11 + i), l.shape, { bits: 6 }) }));
  const within = (bytes: number, counted: number, what: string) => assert.ok(Math.abs(bytes / counted - 1) <= 0.03, `${what}: ${bytes} bytes vs ${counted} counted (${((100 * bytes) / counted - 100).toFixed(2)}%)`);

  it("pruned 6-bit k-means in fixed-width CSR: within 3% of sparseBits per tensor", () => {
    let file = 0;
    let counted = 0;
    for (const { name, shape, q } of pruned) {
      const { section } = roundTrip(name, shape, q, FIXED);
      const bits = sparseBits(q, name, false).bits;
      within(section.length, bits / 8, name);
      file += section.length;
      counted += bits / 8;
    }
    within(file, counted, "all kernels");
  });

  it("pruned 6-bit k-means with Huffman: within 3% of sparseBits' Huffman count, at the rows and gap width it chose", () => {
    for (const { name, shape, q } of pruned) {
      const { entry, section } = roundTrip(name, shape, q, HUFFMAN);
      const s = sparseBits(q, name, true);
      assert.strictEqual((entry.layout as { gapBits: number }).gapBits, s.huffmanIndexBits, name);
      assert.strictEqual((entry.layout as { rows: number }).rows, s.huffmanRows, name);
      within(section.length, s.huffmanBits / 8, name);
    }
  });

  it("Huffman CSR walks the tensor as one row when survivors cluster by input, one row per output when they cluster by output", () => {
    const [nIn, nOut] = [256, 64];
    /** 30% of the weights kept, but none of the first half of the inputs (byInput) or of the outputs. */
    const clustered = (byInput: boolean) =>
      prunedValues(nIn * nOut, 0.3, 41).map((v, i) => ((byInput ? Math.floor(i / nOut) < nIn / 2 : i % nOut < nOut / 2) ? 0 : v));
    for (const [byInput, rows] of [[true, 1], [false, nOut]] as const) {
      const q = quantizeKmeans(clustered(byInput), [nIn, nOut], { bits: 5 });
      const { entry, section } = roundTrip("fc/kernel", [nIn, nOut], q, HUFFMAN);
      const s = sparseBits(q, "fc/kernel", true);
      assert.deepStrictEqual([(entry.layout as { rows: number }).rows, s.huffmanRows], [rows, rows], `clustered by ${byInput ? "input" : "output"}`);
      within(section.length, s.huffmanBits / 8, "clustered");
    }
  });

  it("dense per-channel affine 4-bit fc1: exactly tensorBits / 8; with Huffman within 3% of the report's count", () => {
    const v = prunedValues(784 * 300, 1, 21);
    const q = quantizeLinear(v, [784, 300], { bits: 4, mode: "affine", axis: 1 });
    assert.strictEqual(roundTrip("fc1/kernel", [784, 300], q, FIXED).section.length, tensorBits(q) / 8);
    const h = huffmanCode(q.codes, 16);
    const report = (h.bits + 8 * h.lengths.filter((l) => l > 0).length + paramBits(q)) / 8;
    within(roundTrip("fc1/kernel", [784, 300], q, HUFFMAN).section.length, report, "fc1 Huffman");
  });

  it("with sparse, a pruned float32 kernel goes to CSR within 3% of %size's count; −0 is stored, +0 is not", () => {
    const v = prunedValues(784 * 300, 0.06, 31);
    v[5] = -0;
    const { entry, section } = roundTrip("fc1/kernel", [784, 300], undefined, { huffman: false, sparse: true }, v);
    assert.strictEqual(entry.layout.type, "csr");
    within(section.length, csrCount(v, [784, 300], { valueBits: 32, indexBits: 5 }).bytes, "float32 CSR");
    // A dense tensor stays dense: CSR would be larger.
    assert.strictEqual(roundTrip("fc1/kernel", [784, 300], undefined, { huffman: false, sparse: true }, prunedValues(784 * 300, 0.9, 32)).entry.layout.type, "dense");
  });
});
