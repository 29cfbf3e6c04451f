/**
 * Arithmetic cost of one layer call, per example, from its weights' shapes
 * and its input and output shapes.
 *
 * Conventions (what is counted, so that numbers can be checked by hand):
 * - MACs count the multiply-accumulates of weight use only: Dense, Conv1D/2D/3D,
 *   Conv2DTranspose, DepthwiseConv2D and SeparableConv2D (depthwise part plus
 *   pointwise part). A Conv2D with output Ho×Wo×F and kernel kh×kw×Cin does
 *   Ho·Wo·F·kh·kw·Cin MACs (LeNet-5 conv1: 24·24·20·5·5·1 = 288,000).
 * - FLOPs = 2 × MACs for those layers (one multiply and one add per MAC, the
 *   convention of the TensorFlow profiler and of Molchanov et al. 2017).
 *   Their bias additions and fused activations are not counted: they are one
 *   operation per output element, under 1% of the MACs of the layers here.
 * - Pooling: poolSize elements read per output element, one FLOP each
 *   (comparisons for max, additions and the division for average); global
 *   pooling one FLOP per input element.
 * - BatchNormalization at inference is x·a + b per element with a and b
 *   precomputed: 2 FLOPs per element.
 * - Activation layers (Activation, ReLU, LeakyReLU, ELU, PReLU, Softmax,
 *   ThresholdedReLU): 1 FLOP per element whatever the function (a count of
 *   element operations, not of machine instructions); a linear Activation is 0.
 * - Element-wise merges (Add, Subtract, Multiply, Average, Maximum, Minimum):
 *   (inputs − 1) FLOPs per output element.
 * - Layers that only move or drop data cost 0: InputLayer, Flatten, Reshape,
 *   Permute, Dropout and the noise layers, padding, cropping, Concatenate,
 *   RepeatVector, UpSampling, Embedding (a lookup), Masking.
 * - Any other layer is reported as not counted rather than guessed.
 * A model's cost (modelCost) is the sum over its layers' calls that belong
 * to it, a nested model counting as its own layers' sum once per call. It
 * is the one FLOP count of the project: `%summary`, `%compare` and `%prune`
 * report it.
 */
import * as tf from "@tensorflow/tfjs";
import { weightRole } from "../toolkit/layers";

/** A shape without the batch axis (null for unknown dimensions). */
export type ExampleShape = readonly (number | null)[];

/** The cost of one call of a layer on one example. */
export interface LayerCost {
  /** Weight multiply-accumulates. */
  macs: number;
  /** Floating-point operations under the conventions above. */
  flops: number;
  /** False when this layer class has no rule here (macs and flops are then 0). */
  counted: boolean;
}

const FREE = new Set([
  "InputLayer", "Flatten", "Reshape", "Permute", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
  "GaussianNoise", "GaussianDropout", "AlphaDropout", "ZeroPadding1D", "ZeroPadding2D", "Cropping2D",
  "Concatenate", "RepeatVector", "UpSampling2D", "Embedding", "Masking",
]);
const ELEMENTWISE = new Set(["ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax", "ThresholdedReLU"]);
const MERGES = new Set(["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]);
const POOLS = new Set(["MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D"]);
const GLOBAL_POOLS = new Set(["GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D"]);
const CONVS = new Set(["Conv1D", "Conv2D", "Conv3D"]);

/**
 * Elements of a shape (known dimensions only: an unknown one counts as 1).
 *
 * @param shape a shape without the batch axis
 * @returns the product of its dimensions
 * @example
 *   elements([24, 24, 20]); // 11520
 */
export function elements(shape: ExampleShape): number {
  return shape.reduce<number>((a, d) => a * (d ?? 1), 1);
}

function weightShape(layer: tf.layers.Layer, role: string): number[] | undefined {
  return layer.weights.find((w) => weightRole(w) === role)?.shape as number[] | undefined;
}

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);
const weighted = (macs: number): LayerCost => ({ macs, flops: 2 * macs, counted: true });
const plain = (flops: number): LayerCost => ({ macs: 0, flops, counted: true });

/**
 * The cost of one call of `layer` on one example.
 *
 * @param layer a built layer (not a nested model)
 * @param inputs the call's input shapes, without the batch axis
 * @param outputs the call's output shapes, without the batch axis
 * @returns MACs and FLOPs under the conventions of this file
 * @example
 *   layerCost(model.getLayer("conv1"), [[28, 28, 1]], [[24, 24, 20]]); // {macs: 288000, flops: 576000, counted: true}
 */
export function layerCost(layer: tf.layers.Layer, inputs: readonly ExampleShape[], outputs: readonly ExampleShape[]): LayerCost {
  const cls = layer.getClassName();
  const out = outputs.reduce((a, s) => a + elements(s), 0);
  const config = layer.getConfig() as Record<string, unknown>;
  if (FREE.has(cls)) return plain(0);
  if (cls === "Dense") {
    const kernel = weightShape(layer, "kernel");
    return kernel === undefined ? { macs: 0, flops: 0, counted: false } : weighted(out * kernel[0]);
  }
  if (CONVS.has(cls)) {
    // kernel [..spatial, Cin, F]: every output element reads spatial·Cin weights.
    const kernel = weightShape(layer, "kernel");
    return kernel === undefined ? { macs: 0, flops: 0, counted: false } : weighted(out * prod(kernel.slice(0, -1)));
  }
  if (cls === "Conv2DTranspose") {
    // kernel [kh, kw, F, Cin]: every input element is spread over kh·kw·F outputs.
    const kernel = weightShape(layer, "kernel");
    return kernel === undefined ? { macs: 0, flops: 0, counted: false } : weighted(elements(inputs[0]) * prod(kernel.slice(0, 3)));
  }
  if (cls === "DepthwiseConv2D") {
    // kernel [kh, kw, Cin, m]: every output element reads kh·kw weights.
    const kernel = weightShape(layer, "depthwise_kernel");
    return kernel === undefined ? { macs: 0, flops: 0, counted: false } : weighted(out * kernel[0] * kernel[1]);
  }
  if (cls === "SeparableConv2D") {
    const dk = weightShape(layer, "depthwise_kernel");
    const pk = weightShape(layer, "pointwise_kernel");
    if (dk === undefined || pk === undefined) return { macs: 0, flops: 0, counted: false };
    const [kh, kw, cin, m] = dk;
    const positions = out / pk[3]; // Ho·Wo
    return weighted(positions * cin * m * kh * kw + positions * cin * m * pk[3]);
  }
  if (POOLS.has(cls)) {
    const pool = config.poolSize;
    const window = Array.isArray(pool) ? prod(pool as number[]) : Number(pool);
    return plain(out * window);
  }
  if (GLOBAL_POOLS.has(cls)) return plain(elements(inputs[0]));
  if (cls === "BatchNormalization") return plain(2 * out);
  if (cls === "Activation") return plain(config.activation === "linear" ? 0 : out);
  if (ELEMENTWISE.has(cls)) return plain(out);
  if (MERGES.has(cls)) return plain((inputs.length - 1) * out);
  return { macs: 0, flops: 0, counted: false };
}

/** The shapes of one call of a layer, without the batch axis. */
export interface LayerCall {
  inputs: ExampleShape[];
  outputs: ExampleShape[];
}

/** A Node's input or output shapes as a list of shapes without the batch axis. */
function shapesOf(s: unknown): ExampleShape[] {
  const list = (Array.isArray(s) && Array.isArray(s[0]) ? s : [s]) as (number | null)[][];
  return list.map((shape) => shape.slice(1));
}

/**
 * The calls of `layer` that belong to `model` (a layer may also serve
 * other models), with their shapes.
 *
 * @param model the model whose graph is counted
 * @param layer one of its layers
 * @returns one entry per call, in call order
 * @example
 *   layerCalls(model, model.getLayer("conv1")); // [{inputs: [[28, 28, 1]], outputs: [[24, 24, 20]]}]
 */
export function layerCalls(model: tf.LayersModel, layer: tf.layers.Layer): LayerCall[] {
  const keys = (model as unknown as { containerNodes?: Set<string> }).containerNodes;
  // A Sequential keeps its node set in an inner model built lazily: its own
  // layers' first call is the one the Sequential made.
  const nodes =
    keys !== undefined && keys.size > 0
      ? layer.inboundNodes.filter((_, i) => keys.has(`${layer.name}_ib-${i}`))
      : layer.inboundNodes.slice(0, 1);
  return nodes.map((n) => ({ inputs: shapesOf(n.inputShapes), outputs: shapesOf(n.outputShapes) }));
}

/**
 * The cost of `layer` per example of `model`: layerCost summed over the
 * layer's calls in the model; a nested model counts as modelCost of it
 * per call.
 *
 * @param model the model whose graph is counted
 * @param layer one of its layers
 * @returns MACs, FLOPs and whether every call had a rule
 * @example
 *   layerCostIn(model, model.getLayer("pool1")); // {macs: 0, flops: 11520, counted: true} for LeNet-5
 */
export function layerCostIn(model: tf.LayersModel, layer: tf.layers.Layer): LayerCost {
  const calls = layerCalls(model, layer);
  if (layer instanceof tf.LayersModel) {
    const inner = modelCost(layer);
    return { macs: inner.macs * calls.length, flops: inner.flops * calls.length, counted: inner.uncounted.length === 0 };
  }
  const total: LayerCost = { macs: 0, flops: 0, counted: true };
  for (const call of calls) {
    const c = layerCost(layer, call.inputs, call.outputs);
    total.macs += c.macs;
    total.flops += c.flops;
    total.counted &&= c.counted;
  }
  return total;
}

/** A model's cost per example. */
export interface ModelCost {
  macs: number;
  flops: number;
  /** Layers without a rule (their cost is left out of the totals). */
  uncounted: string[];
}

/**
 * MACs and FLOPs of one forward pass of one example through `model`, under
 * the conventions at the top of this file (the totals of `%summary`, without
 * reading any weight values).
 *
 * @param model a built model
 * @returns MACs, FLOPs and the names of layers not counted
 * @example
 *   modelCost(lenet5()).flops; // 4600720 (4586000 in conv and Dense, 14720 in pooling)
 */
export function modelCost(model: tf.LayersModel): ModelCost {
  const out: ModelCost = { macs: 0, flops: 0, uncounted: [] };
  for (const layer of model.layers) {
    const c = layerCostIn(model, layer);
    out.macs += c.macs;
    out.flops += c.flops;
    if (!c.counted) out.uncounted.push(layer.name);
  }
  return out;
}
