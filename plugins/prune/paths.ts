/**
 * Where one layer's units go: the layers between it and the next layers that
 * read them. Removing a unit means more than zeroing its kernel slice and
 * bias: a BatchNormalization after it would turn the zero back into
 * beta − gamma·mean/√(var + ε), so the unit's gamma and beta are masked too,
 * and the next Dense/Conv's input rows for that unit are masked so its
 * "outgoing connections" (adjacency pruning) disappear as well. Then the
 * masked model computes exactly what the physically stripped model computes.
 *
 * Branches: a Concatenate moves the units to its output at the input's
 * offset; a linear merge (Add, Average, Subtract) passes them on unchanged
 * but sums them with other branches, so the units there can only go
 * together with the other inputs' units at the same channels (groups.ts
 * ties them into dependency groups from the merges recorded here).
 *
 * This file only reads the graph (layer.outboundNodes, shapes, configs).
 */
import * as tf from "@tensorflow/tfjs";
import { expandMultiplier, expandPositions, inputShapes } from "../toolkit/channels";
import { weightRole } from "../toolkit/layers";
import { dependencyGroups, DependencyGroup, MergeShape, MergeVisit } from "./groups";
import { PruneRegistry } from "./registry";

function sharedProblem(layer: tf.layers.Layer): string {
  return `layer "${layer.name}" (${layer.getClassName()}) is called ${layer.inboundNodes.length} times (a shared layer); slimlab removes units only of layers called once`;
}

/** Offset of input `input` along a Concatenate's channel (last) axis, or undefined when it joins another axis. */
function concatOffset(layer: tf.layers.Layer, input: number): number | undefined {
  const shapes = inputShapes(layer);
  const rank = shapes[0].length;
  const axis = (layer.getConfig() as { axis?: number }).axis ?? -1;
  if (axis !== -1 && axis !== rank - 1) return undefined;
  return shapes.slice(0, input).reduce((a, s) => a + (s[s.length - 1] as number), 0);
}

/** Activations f with f(0) = 0: a zeroed unit stays zero through them. */
const ZERO_PRESERVING = new Set(["linear", "relu", "relu6", "elu", "selu", "tanh", "softsign", "swish", "mish", "gelu", "gelu_new"]);

/** Weightless layers that act on each channel alone (or only move positions). */
const PASS_THROUGH = new Set([
  "Activation", "ReLU", "LeakyReLU", "ELU", "ThresholdedReLU", "Dropout", "SpatialDropout1D", "GaussianNoise",
  "GaussianDropout", "AlphaDropout", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
  "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "ZeroPadding2D",
  "UpSampling2D", "Cropping2D", "RepeatVector",
]);

/**
 * Merges whose output channel c is the sum (or mean, or difference) of
 * channel c of every input: channels line up across the inputs and a zero
 * in all of them stays zero. Multiply, Maximum, Minimum and Dot do not
 * combine channels linearly, so a group's summed norms would not rank their
 * channels; they stay blocked.
 */
export const LINEAR_MERGES = new Set(["Add", "Average", "Subtract"]);

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
  /** Why the units cannot be cut physically (a non-linear merge, a reshape, model outputs, a shared layer); strip and neuron pruning need none. */
  blocked?: string;
  /** Set when the units are (or reach without a consumer) a model output: removing them changes the output shape. */
  output?: string;
  /** Why the units cannot be followed at all (a shared layer on the way); no unit method may remove them. */
  shared?: string;
  /** Linear merges the units reach, in the order reached (their groups are built from these). */
  merges: MergeVisit[];
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
  const result: UnitPath = { weights: [], notZero: activationProblem(producer), merges: [] };
  if (outputs.has(producer)) result.output = result.blocked = `layer "${producer.name}" produces a model output`;
  const start = Array.from({ length: units }, (_, c) => [c]);
  /** A layer to visit, the unit map of its input, and the node and position through which it receives them. */
  const queue: [tf.layers.Layer, number[][], number][] = [];
  const next = (layer: tf.layers.Layer, map: number[][]) => {
    for (const node of layer.outboundNodes) {
      if (!members.has(node.outboundLayer)) continue;
      const at = node.inboundLayers.flatMap((l, i) => (l === layer ? [i] : []));
      if (at.length > 1) result.blocked ??= `layer "${node.outboundLayer.name}" (${node.outboundLayer.getClassName()}) takes the output of "${layer.name}" ${at.length} times`;
      queue.push([node.outboundLayer, map, at[0]]);
    }
  };
  const calls = (layer: tf.layers.Layer) => layer.inboundNodes.length;
  if (calls(producer) > 1) result.shared = result.blocked = sharedProblem(producer);
  next(producer, start);
  const seen = new Set<tf.layers.Layer>();
  while (queue.length > 0) {
    const [layer, map, input] = queue.shift() as [tf.layers.Layer, number[][], number];
    if (seen.has(layer)) {
      result.blocked ??= `layer "${layer.name}" (${layer.getClassName()}) is reached twice (branches of the same units meet there)`;
      continue;
    }
    seen.add(layer);
    const cls = layer.getClassName();
    if (calls(layer) > 1) {
      result.shared ??= sharedProblem(layer);
      result.blocked ??= result.shared;
      continue;
    }
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
    } else if (cls === "Concatenate") {
      const offset = concatOffset(layer, input);
      if (offset === undefined) result.blocked ??= `its channels flow into "${layer.name}" (Concatenate), which joins along an axis other than the channels`;
      else next(layer, map.map((cs) => cs.map((c) => offset + c)));
    } else if (LINEAR_MERGES.has(cls)) {
      result.merges.push({ layer: layer.name, input, map });
      next(layer, map);
    } else {
      const merge = Array.isArray(layer.inboundNodes[0]?.inputShapes?.[0]);
      const allowed = merge ? `; slimlab cuts through Concatenate and the linear merges ${[...LINEAR_MERGES].join(", ")}` : "";
      result.blocked ??= `its channels flow into "${layer.name}" (${cls}), which slimlab cannot cut${allowed}`;
    }
  }
  return result;
}

/** Every layer of `model` whose class has units in `registry`, with its path. */
export function unitPaths(model: tf.LayersModel, registry: PruneRegistry): Map<string, UnitPath> {
  const out = new Map<string, UnitPath>();
  for (const layer of model.layers) if (registry.get(layer.getClassName())?.unitKernel !== undefined) out.set(layer.name, unitPath(model, layer, registry));
  return out;
}

/**
 * The dependency groups of a model (groups.ts): every unit-bearing layer,
 * tied to the others its units meet at linear merges.
 *
 * @param model a built model
 * @param paths unitPaths(model, registry)
 * @returns the groups, in model order of their first member
 * @example
 *   modelGroups(resnet, unitPaths(resnet, builtinPrunables())).find((g) => g.merges.includes("s1b1_add"))?.members;
 *   // ["stem", "s1b1_conv2", "s1b2_conv2"]
 */
export function modelGroups(model: tf.LayersModel, paths: ReadonlyMap<string, UnitPath>): DependencyGroup[] {
  const merges = new Map<string, MergeShape>();
  for (const path of paths.values()) {
    for (const v of path.merges) {
      if (merges.has(v.layer)) continue;
      const layer = model.getLayer(v.layer);
      merges.set(v.layer, {
        className: layer.getClassName(),
        width: (layer.outputShape as number[]).slice(-1)[0],
        inputs: layer.inboundNodes[0].inboundLayers.map((l) => l.name),
      });
    }
  }
  const producers = [...paths].map(([name, path]) => ({ layer: name, units: (model.getLayer(name).outputShape as number[]).slice(-1)[0], merges: path.merges }));
  return dependencyGroups(producers, merges);
}
