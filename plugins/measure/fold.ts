/**
 * Batch-norm folding arithmetic. At inference a BatchNormalization layer
 * computes y = γ·(x − μ)/σ + β per channel, σ = sqrt(var + ε), with the
 * moving mean μ and variance var. When x = W·u + b comes from a linear
 * layer, y = (W·s)·u + (b − μ)·s + β with s = γ/σ, i.e. the same layer with
 *   W' = W·s (each output channel's weights scaled),
 *   b' = (b − μ)·s + β
 * (Jacob et al. 2018, §3.2 and Fig. C.8; Krishnamoorthi 2018, §2.5).
 * The arithmetic runs in float64 and rounds once to float32.
 */

/** A BatchNormalization layer's inference parameters, per channel. */
export interface BatchNormParams {
  /** Scale; absent when the layer has scale: false (γ = 1). */
  gamma?: ArrayLike<number>;
  /** Offset; absent when the layer has center: false (β = 0). */
  beta?: ArrayLike<number>;
  movingMean: ArrayLike<number>;
  movingVariance: ArrayLike<number>;
  epsilon: number;
}

/**
 * The per-channel scale s = γ / sqrt(var + ε) and shift t = β − μ·s of a
 * batch norm, so that BN(x) = s·x + t.
 *
 * @param bn the layer's parameters
 * @returns s and t, one value per channel
 * @example
 *   batchNormAffine({ movingMean: [1], movingVariance: [3], gamma: [2], beta: [0.5], epsilon: 1 }); // s [1], t [-0.5]
 */
export function batchNormAffine(bn: BatchNormParams): { scale: Float64Array; shift: Float64Array } {
  const c = bn.movingMean.length;
  const scale = new Float64Array(c);
  const shift = new Float64Array(c);
  for (let i = 0; i < c; i++) {
    const s = (bn.gamma?.[i] ?? 1) / Math.sqrt(bn.movingVariance[i] + bn.epsilon);
    scale[i] = s;
    shift[i] = (bn.beta?.[i] ?? 0) - bn.movingMean[i] * s;
  }
  return { scale, shift };
}

/**
 * Folds a batch norm into the kernel and bias of the layer before it.
 *
 * @param kernel the kernel's values, row-major, output channels in the
 *   trailing axis (Dense [in, out], Conv2D [kh, kw, in, out], SeparableConv2D's
 *   pointwise [1, 1, in, out]) or the two trailing axes (DepthwiseConv2D
 *   [kh, kw, C, m], channel c·m + j): so channel = flat index mod C_out
 * @param bias the bias (C_out values), or undefined for a layer without one (b = 0)
 * @param bn the batch norm's parameters (C_out channels)
 * @returns W' and b' as float32
 * @throws Error when the kernel size is not a multiple of the channel count (a caller bug)
 * @example
 *   foldBatchNorm([1, 2], [0], { movingMean: [1], movingVariance: [3], gamma: [2], epsilon: 1 });
 *   // kernel [1, 2], bias [-1]
 */
export function foldBatchNorm(kernel: ArrayLike<number>, bias: ArrayLike<number> | undefined, bn: BatchNormParams): { kernel: Float32Array; bias: Float32Array } {
  const { scale, shift } = batchNormAffine(bn);
  const c = scale.length;
  if (c === 0 || kernel.length % c !== 0) throw new Error(`foldBatchNorm: kernel of ${kernel.length} values does not split into ${c} output channels`);
  const k = new Float32Array(kernel.length);
  for (let i = 0; i < kernel.length; i++) k[i] = kernel[i] * scale[i % c];
  const b = new Float32Array(c);
  for (let i = 0; i < c; i++) b[i] = (bias?.[i] ?? 0) * scale[i] + shift[i];
  return { kernel: k, bias: b };
}
