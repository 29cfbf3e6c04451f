/**
 * Power-of-two quantization: w → sign(w)·2^round(log2|w|), so that a
 * multiply becomes a shift. This is what seed article 002 calls "binary
 * quantization" (its formula sign(x)·2^(sign(x)·floor(log2|x|)) is a
 * power-of-two quantizer, with floor and a sign slip in the exponent); here
 * the exponent is rounded in the log domain and bounded:
 *
 * with b bits, one bit is the sign and 2^(b−1) − 1 exponent codes remain
 * (one more code is 0). The largest exponent is eMax = round(log2 max|w|),
 * the smallest eMin = eMax − (2^(b−1) − 2). Exponents above eMax clamp to
 * it; below eMin a value becomes ±2^eMin if |w| ≥ 2^(eMin−1), else 0
 * (whichever is nearer). Zero stays zero.
 */
import { QuantizedTensor } from "./quantized";

/**
 * Quantizes values to signed powers of two.
 *
 * @param values finite float32 values
 * @param shape their shape
 * @param bits 2–8
 * @returns codes into a per-tensor codebook [0, ±2^e …] and decoded values
 * @example
 *   quantizePow2(new Float32Array([0.3, -0.7, 0]), [3], 4).values; // [0.25, -0.5, 0]
 */
export function quantizePow2(values: Float32Array, shape: readonly number[], bits: number): QuantizedTensor {
  let maxAbs = 0;
  for (let i = 0; i < values.length; i++) maxAbs = Math.max(maxAbs, Math.abs(values[i]));
  const exponents = 2 ** (bits - 1) - 1;
  const eMax = maxAbs > 0 ? Math.round(Math.log2(maxAbs)) : 0;
  const eMin = eMax - (exponents - 1);
  // Codebook: 0, then +2^e for e = eMin..eMax, then −2^e likewise.
  const codebook = new Float32Array(1 + 2 * exponents);
  for (let j = 0; j < exponents; j++) {
    codebook[1 + j] = 2 ** (eMin + j);
    codebook[1 + exponents + j] = -(2 ** (eMin + j));
  }
  const codes = new Uint8Array(values.length);
  const out = new Float32Array(values.length);
  const tiny = 2 ** (eMin - 1);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const a = Math.abs(v);
    if (a === 0 || a < tiny) continue; // code 0 → 0
    let e = Math.round(Math.log2(a));
    e = e > eMax ? eMax : e < eMin ? eMin : e;
    const code = 1 + (e - eMin) + (v < 0 ? exponents : 0);
    codes[i] = code;
    out[i] = codebook[code];
  }
  return { scheme: "pow2", bits, shape: [...shape], codes, decoding: { kind: "codebook", codebook }, values: out };
}
