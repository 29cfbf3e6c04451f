/**
 * How cutting output channels of one layer ripples through the layers after
 * it. Each layer is told which channels of its input(s) survive (in the
 * original numbering of the last axis) and answers with its sliced weights and
 * which channels of its own output survive. rebuild() in surgery.ts walks the
 * graph in topological order and applies these rules; this file only knows
 * layers, never whole models.
 *
 * Everything assumes channels-last tensors (tfjs's default); a layer with
 * dataFormat "channelsFirst" on the path of a cut is refused.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { weightRole } from "./layers";

/** Surviving indices of a tensor's last axis, in original numbering and in order; null keeps all. */
export type Kept = readonly number[] | null;

/** What one layer becomes once its input and/or output channels are cut. */
export interface ChannelStep {
  /** New weights in `layer.weights` order; undefined when unchanged. Unchanged entries are the layer's own variables. */
  weights?: tf.Tensor[];
  /** Surviving channels of the layer's output. */
  out: Kept;
  /** Config fields to overwrite, e.g. {units: 12}. */
  config?: Record<string, number>;
}

/** Layers whose own outputs can be cut (`keep` edits), with the config field holding the width. */
export const CUTTABLE: Readonly<Record<string, "units" | "filters">> = {
  Dense: "units",
  Conv1D: "filters",
  Conv2D: "filters",
  SeparableConv2D: "filters",
};

/** Layers that act on each channel separately (or only move positions around): channels pass straight through. */
const PER_CHANNEL = new Set([
  "Activation",
  "ReLU",
  "LeakyReLU",
  "ELU",
  "ThresholdedReLU",
  "Dropout",
  "SpatialDropout1D",
  "GaussianNoise",
  "GaussianDropout",
  "AlphaDropout",
  "MaxPooling1D",
  "MaxPooling2D",
  "AveragePooling1D",
  "AveragePooling2D",
  "GlobalAveragePooling1D",
  "GlobalAveragePooling2D",
  "GlobalMaxPooling1D",
  "GlobalMaxPooling2D",
  "ZeroPadding2D",
  "UpSampling2D",
  "Cropping2D",
  "RepeatVector",
]);

/** Merge layers whose inputs are combined element by element. */
const ELEMENTWISE = new Set(["Add", "Average", "Multiply", "Maximum", "Minimum", "Subtract"]);

/**
 * Output channels of a depthwise convolution fed by the input channels
 * `kept`: channel c with multiplier m feeds outputs c·m … c·m + m − 1
 * (TensorFlow's depthwise_conv2d layout).
 *
 * @param kept surviving input channels
 * @param m depth multiplier
 * @returns surviving output channels, in order
 * @example
 *   expandMultiplier([0, 2], 2); // [0, 1, 4, 5]
 */
export function expandMultiplier(kept: readonly number[], m: number): number[] {
  return kept.flatMap((c) => Array.from({ length: m }, (_, j) => c * m + j));
}

/**
 * Flattened indices of the channels `kept` of a [..., C] map: row-major
 * flattening puts position p, channel c at p·C + c, so channels interleave.
 *
 * @param kept surviving channels
 * @param channels C, the original channel count
 * @param positions number of positions (product of the other axes)
 * @returns surviving flattened indices, position-major
 * @example
 *   expandPositions([1], 4, 3); // [1, 5, 9]
 */
export function expandPositions(kept: readonly number[], channels: number, positions: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < positions; p++) for (const c of kept) out.push(p * channels + c);
  return out;
}

/**
 * The slices `kept` of `t` along `axis`, as a tensor with its own buffer.
 *
 * Not tf.gather's result itself: the wasm backend (tfjs-backend-wasm 4.22,
 * kernels/GatherV2) allocates gather's output as a rank-4
 * [batch, outer, indices, slice] buffer and only relabels the tensor's
 * shape, so kernels that check the buffer's rank reject it (FusedConv2D:
 * "only supports rank-1 bias but got rank 4"), and a layer variable
 * assigned from it shares that buffer. Re-creating the values under the
 * right shape is exact (−0 and NaN payloads kept, unlike x + 0) and works
 * the same on every backend.
 */
function take(t: tf.Tensor, kept: Kept, axis: number): tf.Tensor {
  if (kept === null) return t;
  return tf.tidy(() => {
    const gathered = tf.gather(t, tf.tensor1d(Array.from(kept), "int32"), axis);
    return tf.tensor(gathered.dataSync(), gathered.shape, gathered.dtype);
  });
}

function sameKept(a: Kept, b: Kept): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function describeKept(k: Kept): string {
  return k === null ? "all channels" : `${k.length} kept channels`;
}

/** The layer's weight values keyed by role ("kernel", "bias", ...). */
function roles(layer: tf.layers.Layer): Map<string, tf.Tensor> {
  return new Map(layer.weights.map((v) => [weightRole(v), v.read()] as const));
}

/** Weights in the layer's own order after replacing some roles. */
function ordered(layer: tf.layers.Layer, changed: Map<string, tf.Tensor>): tf.Tensor[] {
  return layer.weights.map((v) => changed.get(weightRole(v)) ?? v.read());
}

/**
 * Shapes of a layer's inputs (batch axis included) in its first call;
 * tfjs has no typed accessor for this.
 *
 * @param layer a layer that has been called
 * @returns one shape per input
 * @example
 *   inputShapes(model.getLayer("flat")); // [[null, 2, 2, 4]]
 */
export function inputShapes(layer: tf.layers.Layer): (number | null)[][] {
  const s = layer.inboundNodes[0].inputShapes as (number | null)[] | (number | null)[][];
  return Array.isArray(s[0]) ? (s as (number | null)[][]) : [s as (number | null)[]];
}

function refuse(layer: tf.layers.Layer, why: string): never {
  throw new SlimlabError("E_MODEL", `rebuild: cannot carry cut channels through layer "${layer.name}" (${layer.getClassName()}): ${why}`);
}

/**
 * Computes one layer's part of a channel cut.
 *
 * @param layer the original layer (read, never changed)
 * @param ins surviving channels of each of its inputs
 * @param keep output channels to keep, for a `keep` edit on this layer
 * @returns new weights (tensors the caller must dispose, except the layer's
 *   own variables passed through), the surviving output channels, config changes
 * @throws SlimlabError E_MODEL when a cut reaches a layer whose channels
 *   cannot follow (Reshape, LayerNormalization, softmax, channels-first, a
 *   merge of branches cut differently, an unknown layer)
 */
export function propagate(layer: tf.layers.Layer, ins: readonly Kept[], keep?: readonly number[]): ChannelStep {
  const cls = layer.getClassName();
  const config = layer.getConfig() as { dataFormat?: string; activation?: string; axis?: number | number[] };
  const cut = ins.some((k) => k !== null);
  if (!cut && keep === undefined) return { out: null };
  if (config.dataFormat === "channelsFirst") refuse(layer, `dataFormat is "channelsFirst"; only channels-last tensors can be cut`);
  const inKept = ins[0] ?? null;
  const w = roles(layer);

  if (cls in CUTTABLE && cls !== "SeparableConv2D") {
    // Kernels are [..., in, out] (tfjs layout), so inputs are axis rank−2, outputs rank−1.
    const kernel = w.get("kernel") as tf.Tensor;
    const r = kernel.rank;
    const changed = tf.tidy(() => {
      let k = take(kernel, inKept, r - 2);
      const m = new Map<string, tf.Tensor>();
      if (keep !== undefined) {
        k = take(k, keep, r - 1);
        const b = w.get("bias");
        if (b !== undefined) m.set("bias", take(b, keep, 0));
      }
      m.set("kernel", k);
      return ordered(layer, m);
    });
    return { weights: changed, out: keep ?? null, config: keep === undefined ? undefined : { [CUTTABLE[cls]]: keep.length } };
  }
  switch (cls) {
    case "SeparableConv2D": {
      const mult = (w.get("depthwise_kernel") as tf.Tensor4D).shape[3]; // not in tfjs's config
      const changed = tf.tidy(() => {
        const m = new Map<string, tf.Tensor>();
        m.set("depthwise_kernel", take(w.get("depthwise_kernel") as tf.Tensor, inKept, 2));
        let p = take(w.get("pointwise_kernel") as tf.Tensor, inKept === null ? null : expandMultiplier(inKept, mult), 2);
        if (keep !== undefined) {
          p = take(p, keep, 3);
          const b = w.get("bias");
          if (b !== undefined) m.set("bias", take(b, keep, 0));
        }
        m.set("pointwise_kernel", p);
        return ordered(layer, m);
      });
      return { weights: changed, out: keep ?? null, config: keep === undefined ? undefined : { filters: keep.length } };
    }
    case "DepthwiseConv2D": {
      const mult = (w.get("depthwise_kernel") as tf.Tensor4D).shape[3];
      const out = inKept === null ? null : expandMultiplier(inKept, mult);
      const changed = tf.tidy(() => {
        const m = new Map<string, tf.Tensor>();
        m.set("depthwise_kernel", take(w.get("depthwise_kernel") as tf.Tensor, inKept, 2));
        const b = w.get("bias");
        if (b !== undefined) m.set("bias", take(b, out, 0));
        return ordered(layer, m);
      });
      return { weights: changed, out };
    }
    case "BatchNormalization": {
      const rank = inputShapes(layer)[0].length;
      const axis = Array.isArray(config.axis) ? config.axis : [config.axis ?? -1];
      if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== rank - 1)) refuse(layer, `it normalises axis ${JSON.stringify(config.axis)}, not the last one`);
      // gamma, beta, moving mean and variance are all one value per channel.
      const changed = tf.tidy(() => layer.weights.map((v) => take(v.read(), inKept, 0)));
      return { weights: changed, out: inKept };
    }
    case "Flatten": {
      if (inKept === null) return { out: null };
      const shape = inputShapes(layer)[0].slice(1);
      const channels = shape[shape.length - 1];
      const inner = shape.slice(0, -1);
      if (channels === null || inner.some((d) => d === null)) refuse(layer, `its input shape [${shape.join(", ")}] is not fully known`);
      const positions = (inner as number[]).reduce((a, b) => a * b, 1);
      return { out: expandPositions(inKept, channels as number, positions) };
    }
    case "Concatenate": {
      const shapes = inputShapes(layer);
      const rank = shapes[0].length;
      const axis = typeof config.axis === "number" ? config.axis : -1;
      if (axis !== -1 && axis !== rank - 1) refuse(layer, `it concatenates along axis ${axis}, not the channel axis`);
      const out: number[] = [];
      let offset = 0;
      shapes.forEach((s, i) => {
        const n = s[s.length - 1] as number;
        const k = ins[i] ?? null;
        for (const c of k ?? Array.from({ length: n }, (_, j) => j)) out.push(offset + c);
        offset += n;
      });
      return { out };
    }
    case "InputLayer":
      return { out: null };
  }
  if (ELEMENTWISE.has(cls)) {
    const first = ins[0] ?? null;
    const odd = ins.findIndex((k) => !sameKept(k, first));
    if (odd >= 0) {
      refuse(layer, `input 0 has ${describeKept(first)} but input ${odd} has ${describeKept(ins[odd])}; cut every branch it combines with the same channel list`);
    }
    return { out: first };
  }
  if (PER_CHANNEL.has(cls)) {
    if (cls === "Activation" && config.activation === "softmax") refuse(layer, "softmax mixes all channels");
    return { out: inKept };
  }
  return refuse(layer, `the toolkit does not know how its weights or outputs follow its input channels`);
}
