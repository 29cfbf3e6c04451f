/**
 * What every quantizer returns: the integer codes, how to decode them, and
 * the decoded (dequantized) float32 values. Quantizers are pure (array in,
 * this out); only apply.ts writes values into a model.
 */
import { Scheme } from "./scheme";

/**
 * How codes turn back into numbers.
 * - linear: value = fround(code·scale[c] + min[c]) in double arithmetic, per
 *   channel c along `axis` (one entry when per-tensor). When there are more
 *   entries than shape[axis], the channel index runs over `axis` and every
 *   axis after it, flattened: a DepthwiseConv2D kernel [kh, kw, in, m] with
 *   axis 2 has in·m entries, output channel i·m + j. This is exactly what
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
  /**
   * Present when the tensor had exact zeros (a pruned layer) and the scheme
   * keeps them out of the codebook (kmeans, binary): 1 where the weight is a
   * survivor with a code, 0 where it is a pruned zero, which has no code (its
   * `codes` entry is 0 and meaningless) and decodes to exactly +0. Deep
   * Compression (Han et al. 2016, §2–3) stores such positions by relative
   * index, not by code; report.ts counts them that way.
   */
  kept?: Uint8Array;
}

/**
 * The survivors of a tensor: a 0/1 mask of its non-zero values, or
 * undefined when it has no exact zero or nothing but zeros (then there is
 * nothing to keep apart).
 *
 * @param values float32 values
 * @returns the mask (1 = non-zero) or undefined
 * @example
 *   survivorMask(new Float32Array([0, 2, 0])); // Uint8Array [0, 1, 0]
 *   survivorMask(new Float32Array([1, 2])); // undefined
 */
export function survivorMask(values: Float32Array): Uint8Array | undefined {
  const kept = new Uint8Array(values.length);
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) {
    kept[i] = 1;
    n++;
  }
  return n === 0 || n === values.length ? undefined : kept;
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
export function decode(q: Pick<QuantizedTensor, "codes" | "decoding" | "shape" | "kept">): Float32Array {
  const out = decodeCodes(q);
  if (q.kept) for (let i = 0; i < out.length; i++) if (q.kept[i] === 0) out[i] = 0;
  return out;
}

function decodeCodes(q: Pick<QuantizedTensor, "codes" | "decoding" | "shape">): Float32Array {
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
  const axis = d.axis;
  const outer = axis === undefined ? 1 : q.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  // shape[axis] channels, or (a depthwise kernel's) the axes from `axis` on, flattened: see Decoding.
  const channels = axis === undefined ? 1 : d.scale.length;
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
