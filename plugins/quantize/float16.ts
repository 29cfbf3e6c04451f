/**
 * float32 → IEEE 754 half precision with round-to-nearest-even, the
 * rounding IEEE 754 §4.3.1 makes the default. tfjs stores `{dtype:
 * "float16"}` weights as these bit patterns and widens them on load
 * (exactly: every half is a float32), so decode(encode(w)) is also what a
 * stock tfjs loader yields.
 */
import { QuantizedTensor, halfToFloat } from "./quantized";

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** Largest finite half: 65504. Values from 65520 on round to Infinity. */
export const HALF_MAX = 65504;

/**
 * The half-precision bit pattern nearest to `x` (ties to even).
 *
 * @param x a number (rounded to float32 first, as weights are float32)
 * @returns 16-bit pattern; overflow gives ±Inf, NaN a quiet NaN
 * @example
 *   floatToHalf(1); // 0x3c00
 *   floatToHalf(1 + 2 ** -11); // 0x3c00 (tie, rounds to even)
 */
export function floatToHalf(x: number): number {
  F32[0] = x;
  const bits = U32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15; // half exponent
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the full significand (with its hidden
    // bit) right so that it counts units of 2^-24, then round to even.
    if (e < -10) return sign; // below half of the smallest subnormal
    const full = mant | 0x800000;
    const shift = 14 - e; // 14 for e = 0 … 24 for e = -10
    let h = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (h & 1) === 1)) h++;
    return sign | h; // a carry into bit 10 correctly gives the smallest normal
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++; // may carry into the exponent (to Inf): correct
  return sign | h;
}

/**
 * Stores values as float16.
 *
 * @param values float32 values, finite and |v| < 65520 (the caller checks)
 * @param shape their shape
 * @returns half bit patterns as codes and the widened values
 * @example
 *   quantizeFloat16(new Float32Array([0.1]), [1]).values[0]; // 0.0999755859375
 */
export function quantizeFloat16(values: Float32Array, shape: readonly number[]): QuantizedTensor {
  const codes = new Uint16Array(values.length);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const h = floatToHalf(values[i]);
    codes[i] = h;
    out[i] = halfToFloat(h);
  }
  return { scheme: "float16", bits: 16, shape: [...shape], codes, decoding: { kind: "float16" }, values: out };
}
