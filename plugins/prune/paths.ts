/**
 * Where one layer's units go: the layers between it and the next layers that
 * read them. Removing a unit means more than zeroing its kernel slice and
 * bias: a BatchNormalization after it would turn the zero back into
 * beta − gamma·mean/√(var + ε), so the unit's gamma and beta are masked too,
 * and the next Dense/Conv's input rows for that unit are masked so its
 * "outgoing connections" (adjacency pruning) disappear as well. Then the
 * masked model computes exactly what the physically stripped model computes.
 *
 * This file only reads the graph (layer.outboundNodes, shapes, configs).
 */
import * as tf from "@tensorflow/tfjs";
import { expandMultiplier, expandPositions, inputShapes } from "../toolkit/channels";
import { weightRole } from "../toolkit/layers";
import { PruneRegistry } from "./registry";

/** Activations f with f(0) = 0: a zeroed unit stays zero through them. */
const ZERO_PRESERVING = new Set(["linear", "relu", "relu6", "elu", "selu", "tanh", "softsign", "swish", "mish", "gelu", "gelu_new"]);

/** Weightless layers that act on each channel alone (or only move positions). */
const PASS_THROUGH = new Set([
  "Activation", "ReLU", "LeakyReLU", "ELU", "ThresholdedReLU", "Dropout", "SpatialDropout1D", "GaussianNoise",
  "GaussianDropout", "AlphaDropout", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
  "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "ZeroPadding2D",
  "UpSampling2D", "Cropping2D", "RepeatVector",
]);

/** A weight on the path whose entries belong to particular units. */
export interface PathWeight {
  /** The weight's layer and role. */
  layer: string;
  role: string;
  /** Axis of the weight indexed by the path's channels. */
  axis: number;
  /** For each unit of the producer, the indices along `axis` it owns there. */
  indices: number[][];
  /** A consumer's input rows (outgoing connections) rather than a follower's per-channel parameters. */
  consumer: boolean;
}

/** What {@link unitPath} finds downstream of a unit-bearing layer. */
export interface UnitPath {
  /** BatchNormalization gamma/beta, DepthwiseConv2D slices, and consumers' input rows. */
  weights: PathWeight[];
  /** Why a zeroed unit would not stay zero downstream (an activation with f(0) ≠ 0); then masks cannot emulate removal. */
  notZero?: string;
  /** Why the units cannot be cut physically (a merge, a reshape, model outputs); strip and neuron pruning need none. */
  blocked?: string;
  /** Set when the units are (or reach without a consumer) a model output: removing them changes the output shape. */
  output?: string;
}

/**
 * The layers whose outputs are the model's outputs (tf.Sequential leaves
 * `outputLayers` empty, so they are read from `model.outputs`).
 *
 * @param model a built model
 * @returns the output layers
 * @example
 *   outputLayers(model).has(model.getLayer("out")); // true
 */
export function outputLayers(model: tf.LayersModel): Set<tf.layers.Layer> {
  return new Set(model.outputs.map((t) => t.sourceLayer as tf.layers.Layer));
}

function activationOf(layer: tf.layers.Layer): string | undefined {
  const a = (layer.getConfig() as { activation?: unknown }).activation;
  return typeof a === "string" ? a : undefined;
}

/** Why `layer`'s own activation breaks zeros, if it does. */
export function activationProblem(layer: tf.layers.Layer): string | undefined {
  const a = activationOf(layer);
  if (a === undefined || ZERO_PRESERVING.has(a)) return undefined;
  return `layer "${layer.name}" applies activation "${a}", which maps 0 to a non-zero value`;
}

/**
 * Follows the units of `producer` to the layers that read them.
 *
 * @param model the model holding `producer`
 * @param producer a Dense/Conv-like layer whose last kernel axis indexes units
 * @param registry tells which layers consume channels and through which weight
 * @returns the weights to mask per unit and any reason removal cannot be emulated or stripped
 * @example
 *   unitPath(model, model.getLayer("conv1"), builtinPrunables()).weights.map((w) => `${w.layer}/${w.role}`);
 *   // ["bn/gamma", "bn/beta", "fc/kernel"]
 */
export function unitPath(model: tf.LayersModel, producer: tf.layers.Layer, registry: PruneRegistry): UnitPath {
  const members = new Set(model.layers);
  const outputs = outputLayers(model);
  const units = (producer.outputShape as number[]).slice(-1)[0];
  const result: UnitPath = { weights: [], notZero: activationProblem(producer) };
  if (outputs.has(producer)) result.output = result.blocked = `layer "${producer.name}" produces a model output`;
  const start = Array.from({ length: units }, (_, c) => [c]);
  const queue: [tf.layers.Layer, number[][]][] = [];
  const next = (layer: tf.layers.Layer, map: number[][]) => {
    for (const node of layer.outboundNodes) if (members.has(node.outboundLayer)) queue.push([node.outboundLayer, map]);
  };
  next(producer, start);
  const seen = new Set<tf.layers.Layer>();
  while (queue.length > 0) {
    const [layer, map] = queue.shift() as [tf.layers.Layer, number[][]];
    if (seen.has(layer)) {
      result.blocked ??= `layer "${layer.name}" is reached twice (a merge of branches)`;
      continue;
    }
    seen.add(layer);
    const cls = layer.getClassName();
    const entry = registry.get(cls);
    if (entry?.inputKernel !== undefined && inputShapes(layer).length === 1) {
      const v = layer.weights.find((w) => weightRole(w) === entry.inputKernel?.role);
      if (v !== undefined) {
        const axis = entry.inputKernel.axis === "rank-2" ? v.shape.length - 2 : entry.inputKernel.axis;
        result.weights.push({ layer: layer.name, role: weightRole(v), axis, indices: map, consumer: true });
        continue;
      }
    }
    if (outputs.has(layer)) {
      const why = `its units reach the model output through "${layer.name}" (${cls})`;
      result.output ??= why;
      result.blocked ??= why;
    }
    if (cls === "BatchNormalization") {
      for (const w of layer.weights) {
        const role = weightRole(w);
        if (role === "gamma" || role === "beta") result.weights.push({ layer: layer.name, role, axis: 0, indices: map, consumer: false });
      }
      next(layer, map);
    } else if (cls === "DepthwiseConv2D") {
      const kernel = layer.weights.find((w) => weightRole(w) === "depthwise_kernel") as tf.LayerVariable;
      const m = kernel.shape[3] as number;
      result.weights.push({ layer: layer.name, role: "depthwise_kernel", axis: 2, indices: map, consumer: false });
      const expanded = map.map((cs) => expandMultiplier(cs, m));
      if (layer.weights.some((w) => weightRole(w) === "bias")) result.weights.push({ layer: layer.name, role: "bias", axis: 0, indices: expanded, consumer: false });
      result.notZero ??= activationProblem(layer);
      next(layer, expanded);
    } else if (cls === "Flatten") {
      const shape = inputShapes(layer)[0].slice(1) as number[];
      const channels = shape[shape.length - 1];
      const positions = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      next(layer, map.map((cs) => expandPositions(cs, channels, positions)));
    } else if (PASS_THROUGH.has(cls)) {
      if (cls === "Activation") result.notZero ??= activationProblem(layer);
      next(layer, map);
    } else {
      result.blocked ??= `its channels flow into "${layer.name}" (${cls}), which slimlab cannot cut`;
    }
  }
  return result;
}
