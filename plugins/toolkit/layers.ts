/**
 * Which layers of a LayersModel carry weights, what kind they are, and where
 * their output channels sit. Pruning, quantization and benchmarking all start
 * from this list, so the kind names and axis conventions live in one place.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show, suggestion } from "../core/errors";

/** Layer kinds the toolkit knows by name; everything else with weights is "Other". */
export type LayerKind =
  | "Dense"
  | "Conv2D"
  | "DepthwiseConv2D"
  | "SeparableConv2D"
  | "BatchNormalization"
  | "Conv1D"
  | "Other";

const KNOWN_KINDS: readonly LayerKind[] = [
  "Dense",
  "Conv2D",
  "DepthwiseConv2D",
  "SeparableConv2D",
  "BatchNormalization",
  "Conv1D",
];

/**
 * One weight-bearing layer.
 *
 * Axis conventions (tfjs stores kernels channels-last whatever the data format):
 * - Dense: kernel [in, out], outputChannelAxis 1.
 * - Conv1D: kernel [k, in, out], outputChannelAxis 2.
 * - Conv2D: kernel [kh, kw, in, out], outputChannelAxis 3.
 * - SeparableConv2D: `kernel` is the pointwise kernel [1, 1, in·m, out]
 *   (outputChannelAxis 3); the depthwise one is in `depthwiseKernel`.
 * - DepthwiseConv2D: `kernel` is the depthwise kernel [kh, kw, in, m].
 *   Its outputs are channel-major: output c·m + j comes from input channel c
 *   and multiplier j, so the channel axis is 2 (outputChannelAxis) and the
 *   multiplier axis is 3 (`depthMultiplier` = m).
 * - BatchNormalization: `kernel` is gamma and `bias` beta, both [C]
 *   (outputChannelAxis 0); absent when the layer has scale/center off.
 * - Other: `kernel` is the weight named "kernel" if there is one;
 *   outputChannelAxis is undefined because the layout is not known.
 */
export interface LayerInfo {
  /** The layer's name, unique within the model. */
  name: string;
  kind: LayerKind;
  /** The tfjs class name ("Dense", "LSTM", ...), useful when kind is "Other". */
  className: string;
  /** The layer object itself (shared with the model, not a copy). */
  layer: tf.layers.Layer;
  kernel?: tf.LayerVariable;
  bias?: tf.LayerVariable;
  /** SeparableConv2D only: the depthwise kernel [kh, kw, in, m]. */
  depthwiseKernel?: tf.LayerVariable;
  /** DepthwiseConv2D and SeparableConv2D: the depth multiplier m. */
  depthMultiplier?: number;
  /** Axis of `kernel` that indexes output channels (see above). */
  outputChannelAxis?: number;
  /** All the layer's weights, trainable first, in tfjs order. */
  weights: tf.LayerVariable[];
  /** Number of scalars in all the layer's weights. */
  params: number;
  /** Position of the layer in `model.layers`. */
  index: number;
}

/**
 * What a weight is for: the part of its original name after the last "/".
 * Layer names and uniqueness suffixes vary; these roles do not.
 *
 * @param v a layer's weight
 * @returns e.g. "kernel", "bias", "depthwise_kernel", "gamma", "moving_mean"
 * @example
 *   weightRole(model.getLayer("conv1").weights[0]); // "kernel"
 */
export function weightRole(v: tf.LayerVariable): string {
  const name = v.originalName ?? v.name;
  return name.slice(name.lastIndexOf("/") + 1);
}

/**
 * Checks that `value` is a LayersModel whose layers all have their weights,
 * and returns it typed. Shared by every toolkit function so the messages agree.
 *
 * @param value what the caller passed as a model
 * @param fn the public function's name, for the message ("weightLayers")
 * @returns `value` as a tf.LayersModel
 * @throws SlimlabError E_TYPE when `value` is not a LayersModel (a GraphModel,
 *   a tensor, undefined), E_MODEL when the model has no layers or a layer has
 *   not been built (no input shape given).
 * @example
 *   const m = requireModel(x, "prune");
 */
export function requireModel(value: unknown, fn: string): tf.LayersModel {
  if (value instanceof tf.GraphModel) {
    throw new SlimlabError(
      "E_TYPE",
      `${fn}: got a tf.GraphModel (a converted graph of ops); ${fn} needs a tf.LayersModel (layers and their weights); for a GraphModel, %compress_graph or compressGraph(model, {scheme, bits, sparsity}) quantize or prune its weight tensors`
    );
  }
  if (!isLayersModel(value)) {
    throw new SlimlabError(
      "E_TYPE",
      `${fn}: expected a tf.LayersModel, received ${show(value)}; build one with tf.sequential()/tf.model() or load it with tf.loadLayersModel`
    );
  }
  if (value.layers.length === 0) {
    throw new SlimlabError("E_MODEL", `${fn}: model "${value.name}" has no layers; add layers before using it`);
  }
  const unbuilt = value.layers.find((l) => !l.built);
  if (unbuilt !== undefined) {
    throw new SlimlabError(
      "E_MODEL",
      `${fn}: layer "${unbuilt.name}" of model "${value.name}" is not built (its weights do not exist yet); give the first layer an inputShape or call the model once`
    );
  }
  return value;
}

/** True for LayersModels, including ones made by another copy of tfjs. */
function isLayersModel(value: unknown): value is tf.LayersModel {
  if (value instanceof tf.LayersModel) return true;
  const v = value as Partial<tf.LayersModel> | null;
  return (
    typeof v === "object" &&
    v !== null &&
    Array.isArray(v.layers) &&
    typeof v.getWeights === "function" &&
    typeof v.predict === "function" &&
    typeof v.getConfig === "function"
  );
}

function kindOf(className: string): LayerKind {
  return (KNOWN_KINDS as readonly string[]).includes(className) ? (className as LayerKind) : "Other";
}

/** Builds the LayerInfo of one layer (which must have weights). */
function describe(layer: tf.layers.Layer, index: number): LayerInfo {
  const className = layer.getClassName();
  const kind = kindOf(className);
  const weights = layer.weights;
  const byRole = new Map(weights.map((w) => [weightRole(w), w] as const));
  const info: LayerInfo = {
    name: layer.name,
    kind,
    className,
    layer,
    weights,
    params: layer.countParams(),
    index,
  };
  // Read from the kernel: SeparableConv2D's getConfig omits depthMultiplier in tfjs 4.22.
  const multiplier = byRole.get("depthwise_kernel")?.shape[3] ?? undefined;
  switch (kind) {
    case "Dense":
    case "Conv1D":
    case "Conv2D": {
      info.kernel = byRole.get("kernel");
      info.bias = byRole.get("bias");
      info.outputChannelAxis = kind === "Dense" ? 1 : kind === "Conv1D" ? 2 : 3;
      break;
    }
    case "SeparableConv2D":
      info.kernel = byRole.get("pointwise_kernel");
      info.depthwiseKernel = byRole.get("depthwise_kernel");
      info.bias = byRole.get("bias");
      info.depthMultiplier = multiplier;
      info.outputChannelAxis = 3;
      break;
    case "DepthwiseConv2D":
      info.kernel = byRole.get("depthwise_kernel");
      info.bias = byRole.get("bias");
      info.depthMultiplier = multiplier;
      info.outputChannelAxis = 2;
      break;
    case "BatchNormalization":
      info.kernel = byRole.get("gamma");
      info.bias = byRole.get("beta");
      info.outputChannelAxis = 0;
      break;
    case "Other":
      info.kernel = byRole.get("kernel");
      info.bias = byRole.get("bias");
      break;
  }
  return info;
}

/**
 * Lists the layers of `model` that hold weights, in model order.
 *
 * @param model a built tf.LayersModel (Sequential or functional)
 * @returns one LayerInfo per layer with at least one weight; the variables are
 *   the model's own (reading them is free, writing them changes the model)
 * @throws SlimlabError E_TYPE if `model` is not a LayersModel, E_MODEL if it
 *   has no layers or an unbuilt layer
 * @example
 *   for (const l of weightLayers(model)) console.log(l.name, l.kind, l.kernel?.shape);
 */
export function weightLayers(model: tf.LayersModel): LayerInfo[] {
  const m = requireModel(model, "weightLayers");
  const out: LayerInfo[] = [];
  m.layers.forEach((layer, index) => {
    if (layer.weights.length > 0) out.push(describe(layer, index));
  });
  return out;
}

/** Options of selectLayers. */
export interface SelectOptions {
  /** Only consider layers of these kinds (default: all weight-bearing layers). */
  kinds?: readonly LayerKind[];
}

/** Turns one glob ("conv*", "fc?") into an anchored regular expression. */
function globToRegExp(glob: string): RegExp {
  const body = glob
    .split("")
    .map((ch) => (ch === "*" ? ".*" : ch === "?" ? "." : ch.replace(/[\\^$.|+()[\]{}]/g, "\\$&")))
    .join("");
  return new RegExp(`^${body}$`);
}

/**
 * Picks weight-bearing layers by name with comma-separated globs
 * (`*` any run of characters, `?` one character; names are case-sensitive).
 *
 * @param model a built tf.LayersModel
 * @param glob e.g. "conv*", "fc1,fc2"; undefined selects every candidate
 * @param options `kinds` restricts the candidates (e.g. ["Dense", "Conv2D"])
 * @returns the matching LayerInfos in model order, each once
 * @throws SlimlabError E_ARG when a pattern is empty or matches no candidate
 *   (the message lists the available names), plus the errors of weightLayers
 * @example
 *   selectLayers(model, "conv*,fc1").map((l) => l.name); // ["conv1", "conv2", "fc1"]
 */
export function selectLayers(model: tf.LayersModel, glob?: string, options: SelectOptions = {}): LayerInfo[] {
  const all = weightLayers(model);
  const candidates = options.kinds === undefined ? all : all.filter((l) => options.kinds?.includes(l.kind));
  if (glob === undefined) return candidates;
  const names = candidates.map((l) => l.name);
  const available = names.length > 0 ? names.join(", ") : "none";
  const kindsNote = options.kinds === undefined ? "" : ` of kind ${options.kinds.join("/")}`;
  const picked = new Set<string>();
  for (const raw of glob.split(",")) {
    const pattern = raw.trim();
    if (pattern === "") {
      throw new SlimlabError("E_ARG", `selectLayers: empty pattern in ${show(glob)}; give names or globs separated by commas, e.g. "conv*,fc1"`);
    }
    const re = globToRegExp(pattern);
    const hits = names.filter((n) => re.test(n));
    if (hits.length === 0) {
      throw new SlimlabError(
        "E_ARG",
        `selectLayers: pattern ${show(pattern)} matches no layer with weights${kindsNote}${suggestion(pattern, names)}; available: ${available}`
      );
    }
    hits.forEach((h) => picked.add(h));
  }
  return candidates.filter((l) => picked.has(l.name));
}
