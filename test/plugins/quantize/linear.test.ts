import * as assert from "assert";
import { linearParams, quantizeLinear } from "../../../plugins/quantize/linear";
import { decode } from "../../../plugins/quantize/quantized";
import { checkBits, rint } from "../../../plugins/quantize/scheme";
import { mulberry32 } from "../../../plugins/data/random";

function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => scale * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
}

function mse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s / a.length;
}

describe("quantize/linear", () => {
  it("rounds half to even like numpy", () => {
    assert.deepStrictEqual([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6].map(rint), [0, 2, 2, -0, -2, -2, 2, 3]);
  });

  it("computes tfjs-converter's nudged parameters in float32", () => {
    const p = linearParams(-1, 3, 8, "affine");
    const scale = Math.fround(4 / 255);
    assert.strictEqual(p.scale, scale);
    assert.strictEqual(p.zeroPoint, 64); // round(1 / (4/255)) = round(63.75)
    assert.strictEqual(p.min, -64 * scale);
    // Constant zero tensor: converter's constant case (scale 1, min 0), no division by zero.
    assert.deepStrictEqual(linearParams(0, 0, 8, "affine"), { scale: 1, min: 0, zeroPoint: 0, qlo: 0, qhi: 255 });
    const s = linearParams(-2, 1, 4, "symmetric");
    assert.strictEqual(s.scale, Math.fround(2 / 7));
    assert.strictEqual(s.zeroPoint, 8);
    assert.deepStrictEqual([s.qlo, s.qhi], [1, 15]);
  });

  for (const bits of [2, 4, 8, 12, 16]) {
    for (const mode of ["affine", "symmetric"] as const) {
      it(`${mode} ${bits}-bit: error ≤ S/2 inside the range, ≤ 2^bits values, 0.0 exact`, () => {
        const x = randn(4001, bits);
        x[17] = 0;
        const q = quantizeLinear(x, [4001], { bits, mode });
        const d = q.decoding;
        assert.ok(d.kind === "linear");
        const S = d.scale[0];
        for (let i = 0; i < x.length; i++) {
          assert.ok(Math.abs(x[i] - q.values[i]) <= S / 2 + 1e-6 * S + 2 ** -23 * Math.abs(x[i]), `i=${i} x=${x[i]} deq=${q.values[i]} S=${S}`);
        }
        assert.ok(new Set(q.values).size <= 2 ** bits);
        assert.ok(Object.is(q.values[17], 0), "0.0 decodes to exactly +0");
        assert.ok(Math.max(...q.codes) <= 2 ** bits - 1);
        // decode() reproduces the values bit for bit (the loader's formula).
        assert.deepStrictEqual(Array.from(decode(q)), Array.from(q.values));
      });
    }
  }

  it("affine keeps 0.0 exact even when all weights are positive", () => {
    const x = Float32Array.from([0.3, 0.7, 1.9, 0]);
    const q = quantizeLinear(x, [4], { bits: 3, mode: "affine" });
    assert.strictEqual(q.values[3], 0);
  });

  it("handles constant tensors without dividing by zero", () => {
    for (const c of [0, 0.5, -3]) {
      const x = new Float32Array(10).fill(c);
      for (const mode of ["affine", "symmetric"] as const) {
        const q = quantizeLinear(x, [10], { bits: 8, mode });
        const S = q.decoding.kind === "linear" ? q.decoding.scale[0] : NaN;
        assert.ok(Number.isFinite(S) && S > 0);
        q.values.forEach((v) => assert.ok(Math.abs(v - c) <= S / 2 + 1e-7, `${mode} c=${c} got ${v}`));
      }
    }
  });

  it("per-channel beats per-tensor MSE when channels differ in scale", () => {
    // Dense kernel [in=64, out=8]; channel c has std 10^(c/2 - 2).
    const x = new Float32Array(64 * 8);
    const r = randn(64 * 8, 5);
    for (let i = 0; i < 64; i++) for (let c = 0; c < 8; c++) x[i * 8 + c] = r[i * 8 + c] * 10 ** (c / 2 - 2);
    const perTensor = quantizeLinear(x, [64, 8], { bits: 8, mode: "affine" });
    const perChannel = quantizeLinear(x, [64, 8], { bits: 8, mode: "affine", axis: 1 });
    assert.ok(perChannel.decoding.kind === "linear" && perChannel.decoding.scale.length === 8);
    const a = mse(x, perTensor.values);
    const b = mse(x, perChannel.values);
    assert.ok(b < a / 2, `per-channel ${b} vs per-tensor ${a}`);
    // Each channel has at most 2^bits values.
    for (let c = 0; c < 8; c++) {
      const vals = new Set<number>();
      for (let i = 0; i < 64; i++) vals.add(perChannel.values[i * 8 + c]);
      assert.ok(vals.size <= 256);
    }
  });

  it("per-channel on a middle axis: blocks of the trailing axes share a channel", () => {
    const x = randn(3 * 3 * 4 * 2, 9);
    for (let i = 0; i < x.length; i++) if (Math.floor(i / 2) % 4 === 3) x[i] *= 100; // channel 3 is large
    const q = quantizeLinear(x, [3, 3, 4, 2], { bits: 4, mode: "symmetric", axis: 2 });
    assert.ok(q.decoding.kind === "linear");
    const scales = Array.from(q.decoding.scale);
    assert.ok(scales[3] > 50 * Math.max(scales[0], scales[1], scales[2]));
  });

  it("rejects bits outside the scheme's range with one line naming value and range", () => {
    assert.throws(() => checkBits("affine", 1, "quantize"), { name: "SlimlabError", code: "E_ARG", message: "quantize: bits 1 is not allowed for scheme affine (integer codes stored as uint8/uint16); allowed: an integer from 2 to 16" });
    assert.throws(() => checkBits("binary", 2, "quantize"), { code: "E_ARG", message: "quantize: bits 2 is not allowed for scheme binary (sign(W)·α); allowed: exactly 1" });
    assert.throws(() => checkBits("kmean", 4, "quantize"), { code: "E_ARG", message: "quantize: scheme \"kmean\" is not known (did you mean kmeans?); allowed: affine, symmetric, kmeans, pow2, binary, ternary, float16" });
    assert.deepStrictEqual(checkBits("kmeans", undefined, "q"), { scheme: "kmeans", bits: 6 });
  });

  it("codes equal round((clip(w) - min)/S) with ties to even, computed by division, including values on ties", () => {
    const rand = mulberry32(11);
    for (const bits of [2, 4, 8, 16]) {
      for (const mode of ["affine", "symmetric"] as const) {
        const n = 20000;
        const w = new Float32Array(n);
        for (let i = 0; i < n; i++) w[i] = (rand() - 0.3) * 2;
        const p = linearParams(Math.min(...w), Math.max(...w), bits, mode);
        // Plant exact ties: min + (k + 0.5)·S, where the multiply-by-reciprocal shortcut could round the other way.
        for (let k = 0; k < 50; k++) w[k] = Math.fround(p.min + (k + 0.5) * p.scale);
        const q = quantizeLinear(w, [n], { bits, mode });
        const d = q.decoding as { scale: Float64Array; min: Float64Array };
        const qlo = mode === "symmetric" ? 1 : 0;
        const qhi = 2 ** bits - 1;
        for (let i = 0; i < n; i++) {
          let t = (w[i] - d.min[0]) / d.scale[0];
          t = Math.min(qhi, Math.max(qlo, t));
          assert.strictEqual(q.codes[i], rint(t), `bits ${bits} ${mode}: w[${i}] = ${w[i]}`);
        }
      }
    }
  });

  it("per-channel ranges and codes match a plain reference for every row count and channel axis", () => {
    // rangeRows reads four rows at a time; rows 1–9 cover the tail of 0–3 rows.
    for (const rows of [1, 2, 3, 4, 5, 7, 8, 9]) {
      for (const axis of [0, 1]) {
        const shape = [rows, 5];
        const w = randn(rows * 5, 100 + rows, 0.5);
        w[0] = 7; // one outlier in channel 0 of axis 1 / row 0 of axis 0
        const q = quantizeLinear(w, shape, { bits: 4, mode: "affine", axis });
        const d = q.decoding as { scale: Float64Array; min: Float64Array };
        const channels = shape[axis];
        for (let c = 0; c < channels; c++) {
          const members = Array.from(w).filter((_, i) => (axis === 1 ? i % 5 : Math.floor(i / 5)) === c);
          const p = linearParams(Math.min(...members), Math.max(...members), 4, "affine");
          assert.strictEqual(d.scale[c], p.scale, `rows ${rows} axis ${axis} channel ${c}`);
          assert.strictEqual(d.min[c], p.min, `rows ${rows} axis ${axis} channel ${c}`);
        }
        for (let i = 0; i < w.length; i++) {
          const c = axis === 1 ? i % 5 : Math.floor(i / 5);
          const t = Math.min(15, Math.max(0, (w[i] - d.min[c]) / d.scale[c]));
          assert.strictEqual(q.codes[i], rint(t), `rows ${rows} axis ${axis}: w[${i}]`);
          assert.strictEqual(q.values[i], Math.fround(q.codes[i] * d.scale[c] + d.min[c]));
        }
      }
    }
  });
});
