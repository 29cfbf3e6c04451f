/**
 * Error and size accounting of a quantized tensor: MSE, SQNR, max error,
 * and bits including everything a decoder needs (scales, zero points,
 * codebooks), as Deep Compression counts codebooks in its ratios.
 */
import { QuantizedTensor } from "./quantized";

/** Errors of a quantized tensor against the original. */
export interface ErrorStats {
  mse: number;
  /** Signal-to-quantization-noise ratio 10·log10(Σx² / Σ(x − x̂)²) in dB; Infinity when exact. */
  sqnrDb: number;
  maxError: number;
}

/**
 * Compares original and decoded values.
 *
 * @param original float32 values
 * @param decoded same length
 * @returns MSE, SQNR (dB) and max |error|
 * @example
 *   errorStats(new Float32Array([1, 2]), new Float32Array([1, 2.5])); // { mse: 0.125, sqnrDb: 13.01…, maxError: 0.5 }
 */
export function errorStats(original: Float32Array, decoded: Float32Array): ErrorStats {
  let signal = 0;
  let noise = 0;
  let maxError = 0;
  for (let i = 0; i < original.length; i++) {
    const d = original[i] - decoded[i];
    signal += original[i] * original[i];
    noise += d * d;
    if (Math.abs(d) > maxError) maxError = Math.abs(d);
  }
  const n = original.length || 1;
  const sqnrDb = noise === 0 ? Infinity : signal === 0 ? -Infinity : 10 * Math.log10(signal / noise);
  return { mse: noise / n, sqnrDb, maxError };
}

/**
 * Bits the decoder's side information takes: per channel a float32 scale
 * and a float32 min (tfjs stores the nudged min, which carries Z); a
 * float32 per codebook entry; nothing for float16.
 *
 * @param q a quantized tensor
 * @returns bits of parameters
 * @example
 *   paramBits(q); // 64 for a per-tensor affine tensor
 */
export function paramBits(q: QuantizedTensor): number {
  const d = q.decoding;
  if (d.kind === "linear") {
    // Binary and ternary need only α (min = −α, scale derived from it).
    const perChannel = q.scheme === "binary" || q.scheme === "ternary" ? 32 : 64;
    return d.scale.length * perChannel;
  }
  if (d.kind === "codebook") return d.codebook.length * 32;
  return 0;
}

/**
 * Total bits of a quantized tensor: fixed-width codes plus parameters.
 *
 * @param q a quantized tensor
 * @returns bits
 * @example
 *   tensorBits(q); // n·bits + paramBits(q)
 */
export function tensorBits(q: QuantizedTensor): number {
  return q.codes.length * q.bits + paramBits(q);
}
