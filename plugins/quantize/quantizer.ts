/**
 * The per-layer config and the one dispatch from a config to the pure
 * quantizer of its scheme (TF-MOT: per-layer QuantizeConfig → quantizer).
 */
import { SlimlabError, show } from "../core/errors";
import { quantizeBinary, quantizeTernary } from "./binary";
import { HALF_MAX, quantizeFloat16 } from "./float16";
import { KmeansInit, quantizeKmeans } from "./kmeans";
import { quantizeLinear } from "./linear";
import { quantizePow2 } from "./pow2";
import { QuantizedTensor } from "./quantized";
import { Scheme, channelView } from "./scheme";

/** How one weight is quantized. */
export interface LayerConfig {
  scheme: Scheme;
  bits: number;
  /** Per-output-channel scales (affine, symmetric; binary/ternary always are). */
  perChannel: boolean;
  /** k-means centroid initialisation. */
  init: KmeansInit;
}

/**
 * Checks that every value is finite (and, for float16, representable).
 *
 * @param values the weight's values
 * @param name weight name for the message ("fc1/kernel")
 * @param fn the public function's name
 * @param scheme the scheme (float16 has a range limit)
 * @throws SlimlabError E_ARG naming the weight, the index and the value
 * @example
 *   checkFinite(new Float32Array([1, NaN]), "fc1/kernel", "quantize", "affine"); // throws
 */
export function checkFinite(values: Float32Array, name: string, fn: string, scheme: Scheme): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      throw new SlimlabError("E_ARG", `${fn}: weight ${name} holds ${show(v)} at index ${i}; quantization needs finite weights: fix or retrain the layer first`);
    }
    if (scheme === "float16" && Math.abs(v) >= HALF_MAX + 16) {
      throw new SlimlabError("E_ARG", `${fn}: weight ${name} holds ${v} at index ${i}, beyond float16's largest value ${HALF_MAX}; use scheme affine or symmetric for this layer`);
    }
  }
}

/**
 * Quantizes one weight with its config.
 *
 * @param values finite float32 values
 * @param shape the weight's shape
 * @param config scheme, bits, perChannel, init
 * @param channelAxis the first axis of the weight's output-channel index
 *   (from the registry): the output channel runs over this axis and the
 *   ones after it (channelView), so a DepthwiseConv2D kernel [kh, kw, in, m]
 *   with axis 2 gets in·m per-channel scales, one per output channel
 * @returns the quantized tensor (its shape is `shape`; per-channel
 *   decodings hold one scale per output channel)
 * @example
 *   quantizeTensor(w, [784, 300], { scheme: "affine", bits: 8, perChannel: true, init: "linear" }, 1);
 */
export function quantizeTensor(values: Float32Array, shape: readonly number[], config: LayerConfig, channelAxis: number): QuantizedTensor {
  const q = quantizeView(values, channelView(shape, channelAxis), config, channelAxis);
  q.shape = [...shape];
  return q;
}

/** The scheme's quantizer on the channel view (channel axis last when per-channel). */
function quantizeView(values: Float32Array, view: readonly number[], config: LayerConfig, channelAxis: number): QuantizedTensor {
  const axis = view.length > 0 ? channelAxis : undefined;
  switch (config.scheme) {
    case "affine":
    case "symmetric":
      return quantizeLinear(values, view, { bits: config.bits, mode: config.scheme, axis: config.perChannel ? axis : undefined });
    case "kmeans":
      return quantizeKmeans(values, view, { bits: config.bits, init: config.init });
    case "pow2":
      return quantizePow2(values, view, config.bits);
    case "binary":
      return quantizeBinary(values, view, axis);
    case "ternary":
      return quantizeTernary(values, view, axis);
    case "float16":
      return quantizeFloat16(values, view);
  }
}
