/**
 * One- and two-bit weights with a per-output-channel scale.
 * - binary (XNOR-Net, Rastegari et al. 2016, §3.1): W ≈ α·sign(W) with
 *   α = mean(|W|) over the channel, the α that minimises ‖W − α·sign(W)‖².
 *   sign(0) is taken as +1 so every weight has one of two codes, except in
 *   a tensor that also has non-zeros and exact zeros (a pruned layer):
 *   there sign(0)·α would revive every pruned weight as +α, so the zeros
 *   keep no code, stay exactly 0 (marked in `kept`, stored by position as
 *   Deep Compression §2 stores pruned weights), and α is the mean |W| of
 *   the survivors, the α that minimises the error with the zeros fixed.
 * - ternary (TWN, Li, Zhang & Liu 2016, eq. 5–6): W ≈ α·t, t ∈ {−1, 0, +1},
 *   t = sign(W) where |W| > Δ, Δ = 0.7·mean(|W|) (their approximation of
 *   the optimal threshold for Gaussian-like weights), α = mean(|W|) over
 *   the weights above Δ.
 * Both decode linearly (value = code·scale + min): binary with scale 2α,
 * min −α; ternary with scale α, min −α (code 1 is exactly 0).
 */
import { channelLayout } from "./scheme";
import { QuantizedTensor, survivorMask } from "./quantized";

/** Per-channel mean of |w| (and, with a threshold per channel, only above it). */
function channelMeans(values: Float32Array, shape: readonly number[], axis: number | undefined, threshold?: Float64Array): Float64Array {
  const { outer, channels, inner } = channelLayout(shape, axis);
  const sum = new Float64Array(channels);
  const count = new Float64Array(channels);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const t = threshold ? threshold[c] : -1;
      for (let j = 0; j < inner; j++, i++) {
        const a = Math.abs(values[i]);
        if (a > t) {
          sum[c] += a;
          count[c]++;
        }
      }
    }
  }
  return sum.map((s, c) => (count[c] ? s / count[c] : 0));
}

/** Fills codes and values from a per-element code function and linear parameters. */
function encode(values: Float32Array, shape: readonly number[], axis: number | undefined, scale: Float64Array, min: Float64Array, codeOf: (v: number, c: number) => number): { codes: Uint8Array; out: Float32Array } {
  const { outer, channels, inner } = channelLayout(shape, axis);
  const codes = new Uint8Array(values.length);
  const out = new Float32Array(values.length);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      for (let j = 0; j < inner; j++, i++) {
        const q = codeOf(values[i], c);
        codes[i] = q;
        out[i] = q * scale[c] + min[c];
      }
    }
  }
  return { codes, out };
}

/**
 * Binarizes weights: α·sign(W) per output channel.
 *
 * @param values finite float32 values
 * @param shape their shape
 * @param axis output-channel axis (undefined: one α for the tensor)
 * @returns 1-bit codes (1 = +α), scale 2α, min −α, decoded values ±α
 *   (and exactly 0 at the zeros of a pruned tensor, marked in `kept`)
 * @example
 *   quantizeBinary(new Float32Array([0.5, -1.5]), [2], undefined).values; // [1, -1]
 */
export function quantizeBinary(values: Float32Array, shape: readonly number[], axis: number | undefined): QuantizedTensor {
  const kept = survivorMask(values);
  const { channels } = channelLayout(shape, axis);
  // Threshold 0 (|w| > 0): α over the survivors when the zeros are kept apart.
  const alpha = channelMeans(values, shape, axis, kept ? new Float64Array(channels) : undefined).map(Math.fround);
  const scale = alpha.map((a) => 2 * a);
  const min = alpha.map((a) => -a);
  const { codes, out } = encode(values, shape, axis, scale, min, (v) => (v >= 0 ? 1 : 0));
  if (kept) {
    for (let i = 0; i < out.length; i++) {
      if (kept[i] === 0) {
        codes[i] = 0;
        out[i] = 0;
      }
    }
  }
  const q: QuantizedTensor = { scheme: "binary", bits: 1, shape: [...shape], codes, decoding: { kind: "linear", axis, scale, min, zeroPoint: scale.map(() => 0.5) }, values: out };
  if (kept) q.kept = kept;
  return q;
}

/**
 * Ternarizes weights: α·{−1, 0, +1} per output channel with Δ = 0.7·mean|W|.
 *
 * @param values finite float32 values
 * @param shape their shape
 * @param axis output-channel axis (undefined: one α for the tensor)
 * @returns 2-bit codes (0 = −α, 1 = 0, 2 = +α), scale α, min −α, decoded values
 * @example
 *   quantizeTernary(new Float32Array([1, -1, 0.1, 0]), [4], undefined).values; // [1, -1, 0, 0]
 */
export function quantizeTernary(values: Float32Array, shape: readonly number[], axis: number | undefined): QuantizedTensor {
  const delta = channelMeans(values, shape, axis).map((m) => 0.7 * m);
  const alpha = channelMeans(values, shape, axis, delta).map(Math.fround);
  const min = alpha.map((a) => -a);
  const { codes, out } = encode(values, shape, axis, alpha, min, (v, c) => (v > delta[c] ? 2 : v < -delta[c] ? 0 : 1));
  return { scheme: "ternary", bits: 2, shape: [...shape], codes, decoding: { kind: "linear", axis, scale: alpha, min, zeroPoint: alpha.map(() => 1) }, values: out };
}
