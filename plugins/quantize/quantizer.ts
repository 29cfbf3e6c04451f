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
import { Scheme } from "./scheme";

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
 * @param channelAxis the weight's output-channel axis (from the registry)
 * @returns the quantized tensor
 * @example
 *   quantizeTensor(w, [784, 300], { scheme: "affine", bits: 8, perChannel: true, init: "linear" }, 1);
 */
export function quantizeTensor(values: Float32Array, shape: readonly number[], config: LayerConfig, channelAxis: number): QuantizedTensor {
  const axis = config.perChannel && shape.length > 0 ? channelAxis : undefined;
  switch (config.scheme) {
    case "affine":
    case "symmetric":
      return quantizeLinear(values, shape, { bits: config.bits, mode: config.scheme, axis });
    case "kmeans":
      return quantizeKmeans(values, shape, { bits: config.bits, init: config.init });
    case "pow2":
      return quantizePow2(values, shape, config.bits);
    case "binary":
      return quantizeBinary(values, shape, shape.length > 0 ? channelAxis : undefined);
    case "ternary":
      return quantizeTernary(values, shape, shape.length > 0 ? channelAxis : undefined);
    case "float16":
      return quantizeFloat16(values, shape);
  }
}
