/**
 * Which weights of which layer classes get quantized, and where their output
 * channels sit (TF-MOT's quantize_registry: supported layers kept apart from
 * the algorithms). Built by one explicit call, nothing registers on import.
 *
 * Only kernels are quantized. Biases, BatchNormalization parameters and
 * other small vectors stay float32: Jacob et al. 2018 (§2.4) keep biases at
 * 32 bits too, because a bias error adds to every output of the channel and
 * they are a negligible share of the size.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show } from "../core/errors";
import { weightRole } from "../toolkit/layers";

/** One quantizable weight of a layer class. */
export interface QuantizableWeight {
  /** Weight role ("kernel", "depthwise_kernel", ...). */
  role: string;
  /**
   * First axis of the output-channel index (for per-channel scales): the
   * output channel runs over this axis and all after it, flattened. It is
   * the last axis for every kernel but the depthwise ones, [kh, kw, in, m],
   * whose in·m output channels span axes 2 and 3.
   */
  channelAxis: number;
}

/** Lookup from tfjs class name to its quantizable weights. */
export class QuantizeRegistry {
  private readonly byClass = new Map<string, readonly QuantizableWeight[]>();

  /**
   * Adds or replaces the entry of a layer class.
   *
   * @param className tfjs class name, e.g. "Dense"
   * @param weights its quantizable weights
   * @returns this registry
   * @throws SlimlabError E_PLUGIN when a channel axis is not a non-negative integer
   * @example
   *   builtinQuantizables().register("MyDense", [{ role: "kernel", channelAxis: 1 }]);
   */
  register(className: string, weights: readonly QuantizableWeight[]): this {
    const bad = weights.find((w) => !Number.isInteger(w.channelAxis) || w.channelAxis < 0);
    if (bad !== undefined) {
      throw new SlimlabError("E_PLUGIN", `QuantizeRegistry.register: ${className}/${bad.role} has channelAxis ${show(bad.channelAxis)}; give a non-negative integer axis`);
    }
    this.byClass.set(className, weights);
    return this;
  }

  /** The quantizable weights of `className` (empty when unknown). */
  weightsOf(className: string): readonly QuantizableWeight[] {
    return this.byClass.get(className) ?? [];
  }

  /** Class names known to the registry. */
  classes(): string[] {
    return [...this.byClass.keys()];
  }
}

/**
 * The registry of built-in layers: Dense, Conv1D, Conv2D,
 * DepthwiseConv2D, SeparableConv2D (both kernels), Embedding.
 *
 * @returns a new registry
 * @example
 *   builtinQuantizables().weightsOf("Conv2D"); // [{ role: "kernel", channelAxis: 3 }]
 */
export function builtinQuantizables(): QuantizeRegistry {
  return new QuantizeRegistry()
    .register("Dense", [{ role: "kernel", channelAxis: 1 }])
    .register("Conv1D", [{ role: "kernel", channelAxis: 2 }])
    .register("Conv2D", [{ role: "kernel", channelAxis: 3 }])
    .register("DepthwiseConv2D", [{ role: "depthwise_kernel", channelAxis: 2 }])
    .register("SeparableConv2D", [
      { role: "depthwise_kernel", channelAxis: 2 },
      { role: "pointwise_kernel", channelAxis: 3 },
    ])
    .register("Embedding", [{ role: "embeddings", channelAxis: 1 }]);
}

/** A weight chosen for quantization. */
export interface WeightTarget {
  layer: tf.layers.Layer;
  variable: tf.LayerVariable;
  /** "<layer>/<role>", stable across clones. */
  name: string;
  role: string;
  channelAxis: number;
}

/**
 * The quantizable weights of the given layers, in model order.
 *
 * @param layers layers to look at
 * @param registry which classes and roles are quantizable
 * @returns one target per quantizable weight present
 * @example
 *   quantizableWeights(model.layers, builtinQuantizables()).map((t) => t.name); // ["fc1/kernel", ...]
 */
export function quantizableWeights(layers: readonly tf.layers.Layer[], registry: QuantizeRegistry): WeightTarget[] {
  const out: WeightTarget[] = [];
  for (const layer of layers) {
    for (const spec of registry.weightsOf(layer.getClassName())) {
      const variable = layer.weights.find((w) => weightRole(w) === spec.role);
      if (variable !== undefined) out.push({ layer, variable, name: `${layer.name}/${spec.role}`, role: spec.role, channelAxis: spec.channelAxis });
    }
  }
  return out;
}
