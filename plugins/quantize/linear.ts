/**
 * Linear (uniform) quantization r = S(q − Z) (Jacob et al. 2018, eq. 1),
 * affine or symmetric, per tensor or per output channel.
 *
 * The parameter arithmetic follows tfjs-converter (quantization.py):
 *   qmax = 2^bits − 1, S = (max − min)/qmax,
 *   Z = round(−min/S), min' = −Z·S, max' = qmax·S + min',
 *   q = round((clip(w, min', max') − min')/S),
 * with numpy's round-half-to-even, and decoding is the tfjs loader's
 * w = q·S + min' (in double, then stored as float32). Two deliberate
 * differences: S is rounded to float32 but min' is kept as the exact double
 * −Z·S (the converter rounds it to float32, which makes real 0 decode to a
 * tiny non-zero number; tfjs reads `min` from JSON as a double, so the
 * exact value costs nothing), and q is computed in double, which keeps
 * |w − ŵ| ≤ S/2 at 16 bits too.
 * Affine widens the range to contain 0 first, so Z is an integer code and
 * real 0.0 decodes exactly (Jacob et al. §2.1: zero padding must be exact).
 * Symmetric fixes Z = 2^(bits−1) and uses codes 1 … 2^bits − 1, i.e. the
 * signed range ±(2^(bits−1) − 1) (the "restricted range" of TFLite int8).
 */
import { channelLayout, rint } from "./scheme";
import { QuantizedTensor, codeArray } from "./quantized";

const f = Math.fround;

export type LinearMode = "affine" | "symmetric";

/** Scale, nudged min and code range of one channel. */
export interface LinearParams {
  scale: number;
  /** −Z·S: the value of code 0 (tfjs' `min`). */
  min: number;
  zeroPoint: number;
  /** Smallest and largest code used. */
  qlo: number;
  qhi: number;
}

/**
 * Quantization parameters of one range [lo, hi].
 *
 * @param lo smallest value (finite)
 * @param hi largest value (finite, ≥ lo)
 * @param bits 2–16
 * @param mode affine or symmetric
 * @returns scale (float32), min (= −Z·S, exact double), zero point and the code range; a range of
 *   width 0 at 0.0 gets scale 1 and min 0 (tfjs-converter's constant case),
 *   so nothing divides by zero
 * @example
 *   linearParams(-1, 3, 8, "affine"); // scale 4/255, zeroPoint 64, min -64·scale
 */
export function linearParams(lo: number, hi: number, bits: number, mode: LinearMode): LinearParams {
  const levels = 2 ** bits - 1;
  if (mode === "symmetric") {
    const half = 2 ** (bits - 1);
    const m = f(Math.max(Math.abs(lo), Math.abs(hi)));
    const scale = m === 0 ? 1 : f(m / (half - 1));
    return { scale, min: -half * scale, zeroPoint: half, qlo: 1, qhi: levels };
  }
  const a = f(Math.min(lo, 0));
  const b = f(Math.max(hi, 0));
  if (a === b) return { scale: 1, min: 0, zeroPoint: 0, qlo: 0, qhi: levels };
  const scale = f(f(b - a) / levels);
  const zeroPoint = rint(-a / scale);
  // Exact in double: a float32 scale times an integer below 2^16.
  return { scale, min: -zeroPoint * scale || 0, zeroPoint, qlo: 0, qhi: levels };
}

/** Options of {@link quantizeLinear}. */
export interface LinearOptions {
  bits: number;
  mode: LinearMode;
  /** Channel axis for per-channel parameters; undefined for one set per tensor. */
  axis?: number;
}

/**
 * Quantizes and dequantizes a tensor's values linearly.
 *
 * @param values finite float32 values (NaN/Inf must be rejected by the caller)
 * @param shape their shape
 * @param opts bits (2–16), mode, optional channel axis
 * @returns codes (uint8 up to 8 bits, else uint16), per-channel scale/min/Z
 *   and the decoded values; every value inside the range is within S/2 of
 *   its decoded value (up to float32 rounding)
 * @example
 *   const q = quantizeLinear(new Float32Array([-1, 0, 0.5, 2]), [4], { bits: 8, mode: "affine" });
 *   q.values[1]; // 0 exactly
 */
export function quantizeLinear(values: Float32Array, shape: readonly number[], opts: LinearOptions): QuantizedTensor {
  const { outer, channels, inner } = channelLayout(shape, opts.axis);
  const lo = new Float64Array(channels).fill(Infinity);
  const hi = new Float64Array(channels).fill(-Infinity);
  if (inner === 1) rangeRows(values, lo, hi, outer, channels);
  else rangeBlocks(values, lo, hi, outer, channels, inner);
  const scale = new Float64Array(channels);
  const min = new Float64Array(channels);
  const zeroPoint = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const p = linearParams(values.length === 0 ? 0 : lo[c], values.length === 0 ? 0 : hi[c], opts.bits, opts.mode);
    scale[c] = p.scale;
    min[c] = p.min;
    zeroPoint[c] = p.zeroPoint;
  }
  const codes = codeArray(opts.bits, values.length);
  const out = new Float32Array(values.length);
  const qlo = opts.mode === "symmetric" ? 1 : 0;
  const qhi = 2 ** opts.bits - 1;
  if (inner === 1) encodeRows(values, codes, out, outer, channels, scale, min, qlo, qhi);
  else encodeBlocks(values, codes, out, outer, channels, inner, scale, min, qlo, qhi);
  return {
    scheme: opts.mode,
    bits: opts.bits,
    shape: [...shape],
    codes,
    decoding: { kind: "linear", axis: opts.axis, scale, min, zeroPoint },
    values: out,
  };
}

/*
 * The range and encoding loops below are the hot path (bench/quantize.ts):
 * one variant for the channel axis last (Dense and conv kernels, where
 * consecutive weights belong to different channels) and one for blocks of
 * weights sharing a channel.
 */

/**
 * Per-channel min and max when the channel axis is last. Four rows are read
 * per pass over the channels, so lo[c] and hi[c] are loaded and stored once
 * per four weights instead of once per weight (1.7× faster on 10M weights).
 */
function rangeRows(values: Float32Array, lo: Float64Array, hi: Float64Array, rows: number, channels: number): void {
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const b = r * channels;
    for (let c = 0; c < channels; c++) {
      const v0 = values[b + c];
      const v1 = values[b + channels + c];
      const v2 = values[b + 2 * channels + c];
      const v3 = values[b + 3 * channels + c];
      let l = lo[c];
      let h = hi[c];
      if (v0 < l) l = v0;
      if (v0 > h) h = v0;
      if (v1 < l) l = v1;
      if (v1 > h) h = v1;
      if (v2 < l) l = v2;
      if (v2 > h) h = v2;
      if (v3 < l) l = v3;
      if (v3 > h) h = v3;
      lo[c] = l;
      hi[c] = h;
    }
  }
  for (; r < rows; r++) {
    const b = r * channels;
    for (let c = 0; c < channels; c++) {
      const v = values[b + c];
      if (v < lo[c]) lo[c] = v;
      if (v > hi[c]) hi[c] = v;
    }
  }
}

/** Per-channel min and max for blocks of `inner` elements sharing a channel. */
function rangeBlocks(values: Float32Array, lo: Float64Array, hi: Float64Array, outer: number, channels: number, inner: number): void {
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      let l = lo[c];
      let h = hi[c];
      for (let j = 0; j < inner; j++, i++) {
        const v = values[i];
        if (v < l) l = v;
        if (v > h) h = v;
      }
      lo[c] = l;
      hi[c] = h;
    }
  }
}

/*
 * Encoding. Clipping w to [min', max'] and then mapping t = (w − min')/S
 * equals clamping t to [qlo, qhi] (both steps are monotonic and the bounds
 * map to qlo and qhi), which saves two loads per weight. t is divided, not
 * multiplied by 1/S, so the code is exactly the converter's. For
 * 0 ≤ t < 2^51, (t + 1.5·2^52) − 1.5·2^52 is t rounded to the nearest
 * integer with ties to even (numpy's rounding) in IEEE double arithmetic,
 * branch-free. The clamp is written as if/else on numbers converted once
 * with `+`: a ternary mixing the small-integer bounds with the double t
 * made V8 box every t (3× slower).
 */
const RINT = 6755399441055744;

/** Channel axis last (Dense kernels, conv kernels): walk rows of `channels`. */
function encodeRows(values: Float32Array, codes: Uint8Array | Uint16Array, out: Float32Array, rows: number, channels: number, scale: Float64Array, min: Float64Array, qlo: number, qhi: number): void {
  const lo = +qlo;
  const hi = +qhi;
  let i = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < channels; c++, i++) {
      const s = scale[c];
      const m = min[c];
      let t = (values[i] - m) / s;
      if (t < lo) t = lo;
      else if (t > hi) t = hi;
      const q = t + RINT - RINT;
      codes[i] = q;
      out[i] = q * s + m;
    }
  }
}

/** Any channel axis: blocks of `inner` elements share a channel. */
function encodeBlocks(values: Float32Array, codes: Uint8Array | Uint16Array, out: Float32Array, outer: number, channels: number, inner: number, scale: Float64Array, min: Float64Array, qlo: number, qhi: number): void {
  const lo = +qlo;
  const hi = +qhi;
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = scale[c];
      const m = min[c];
      for (let j = 0; j < inner; j++, i++) {
        let t = (values[i] - m) / s;
        if (t < lo) t = lo;
        else if (t > hi) t = hi;
        const q = t + RINT - RINT;
        codes[i] = q;
        out[i] = q * s + m;
      }
    }
  }
}
