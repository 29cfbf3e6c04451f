/**
 * What every quantizer returns: the integer codes, how to decode them, and
 * the decoded (dequantized) float32 values. Quantizers are pure (array in,
 * this out); only apply.ts writes values into a model.
 */
import { Scheme } from "./scheme";

/**
 * How codes turn back into numbers.
 * - linear: value = fround(code·scale[c] + min[c]) in double arithmetic, per
 *   channel c along `axis` (one entry when per-tensor). This is exactly what
 *   tfjs' weight loader computes for uint8/uint16 weights, so a per-tensor
 *   linear tensor saves as a stock tfjs quantized weight bit for bit.
 *   min = −Z·S (Jacob et al. 2018, r = S(q − Z)); binary and ternary use
 *   the same form (scale 2α, min −α; scale α, min −α).
 * - codebook: value = codebook[code] (k-means weight sharing, powers of two).
 * - float16: codes are IEEE half-precision bit patterns.
 */
export type Decoding =
  | { kind: "linear"; axis: number | undefined; scale: Float64Array; min: Float64Array; zeroPoint: Float64Array }
  | { kind: "codebook"; codebook: Float32Array }
  | { kind: "float16" };

/** One quantized tensor. */
export interface QuantizedTensor {
  scheme: Scheme;
  /** Bits per code. */
  bits: number;
  shape: number[];
  /** One code per element (for float16 the half bits). */
  codes: Uint8Array | Uint16Array;
  decoding: Decoding;
  /** Decoded values, float32, same layout as the input. */
  values: Float32Array;
}

/** A code array wide enough for `bits`. */
export function codeArray(bits: number, n: number): Uint8Array | Uint16Array {
  return bits <= 8 ? new Uint8Array(n) : new Uint16Array(n);
}

/**
 * Decodes codes with a decoding (the inverse the loaders run).
 *
 * @param q a quantized tensor (its `values` are ignored)
 * @returns the float32 values
 * @example
 *   decode(q).every((v, i) => Object.is(v, q.values[i])); // true
 */
export function decode(q: Pick<QuantizedTensor, "codes" | "decoding" | "shape">): Float32Array {
  const out = new Float32Array(q.codes.length);
  const d = q.decoding;
  if (d.kind === "codebook") {
    for (let i = 0; i < out.length; i++) out[i] = d.codebook[q.codes[i]];
    return out;
  }
  if (d.kind === "float16") {
    for (let i = 0; i < out.length; i++) out[i] = halfToFloat(q.codes[i]);
    return out;
  }
  const shape = q.shape;
  const axis = d.axis;
  const outer = axis === undefined ? 1 : shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const channels = axis === undefined ? 1 : shape[axis];
  const inner = out.length / (outer * channels);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = d.scale[c];
      const m = d.min[c];
      for (let j = 0; j < inner; j++, i++) out[i] = q.codes[i] * s + m;
    }
  }
  return out;
}

/**
 * IEEE half bits → number, exact for every finite half (and ±Inf, NaN).
 *
 * @param h 16-bit pattern
 * @returns its value
 * @example
 *   halfToFloat(0x3c00); // 1
 */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}
