/**
 * Small branching models for the compression techniques that must cope with
 * more than a chain: residual Adds (ResNet, He et al. 2016), inverted
 * residuals with depthwise convolutions (MobileNetV2, Sandler et al. 2018)
 * and Inception-style Concatenates (Szegedy et al. 2015). Widths are tiny by
 * default so that they train on MNIST in seconds; every size is an option.
 *
 * Like the other zoo factories they return a new, UNCOMPILED functional
 * tf.LayersModel ending in a softmax Dense "fc", with stable layer names, and
 * `seed` makes the initial weights bit-identical from run to run (kernels
 * from one seeded stream, biases zero, batch norms at γ = 1, β = 0, μ = 0,
 * σ² = 1). Convolutions followed by a batch norm have no bias of their own.
 * `bnMomentum` sets every batch norm's moving-average momentum.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show } from "../core/errors";
import { checkImageShape, checkSize, kernelInit, ZooOptions } from "./init";

type T = tf.SymbolicTensor;

/** Options every branching factory takes. */
export interface BranchingOptions extends ZooOptions {
  /** [height, width, channels] of one example. Default [28, 28, 1] (MNIST). */
  inputShape?: readonly number[];
  /** Output classes. Default 10. */
  classes?: number;
  /**
   * Momentum of the batch norms' moving mean and variance, in [0, 1).
   * Default 0.99 (Keras'); a short run (a few hundred steps) needs a lower
   * one such as 0.9, or inference uses statistics still close to their
   * initial 0 and 1.
   */
  bnMomentum?: number;
}

/** Layer builders of one model, drawing kernel initialisers from one stream in call order. */
class Builder {
  private readonly init: ReturnType<typeof kernelInit>;
  private readonly momentum: number;
  constructor(model: string, options: BranchingOptions) {
    this.init = kernelInit(options);
    const m = options.bnMomentum ?? 0.99;
    if (typeof m !== "number" || !(m >= 0 && m < 1)) throw new SlimlabError("E_ARG", `${model} bnMomentum ${show(m)} is not allowed: pass a number in [0, 1), e.g. 0.9`);
    this.momentum = m;
  }

  /** A bias-free conv (a batch norm follows), "same" padding. */
  conv(name: string, x: T, filters: number, kernelSize: number, strides = 1): T {
    return tf.layers.conv2d({ name, filters, kernelSize, strides, padding: "same", useBias: false, kernelInitializer: this.init() }).apply(x) as T;
  }

  depthwise(name: string, x: T, strides: number): T {
    return tf.layers.depthwiseConv2d({ name, kernelSize: 3, strides, padding: "same", useBias: false, depthwiseInitializer: this.init() }).apply(x) as T;
  }

  /** conv → BatchNormalization → ReLU (capped at `max` when given), named name, name_bn, name_relu. */
  convBnRelu(name: string, x: T, filters: number, kernelSize: number, strides = 1, max?: number): T {
    return this.bnRelu(name, this.conv(name, x, filters, kernelSize, strides), max);
  }

  bn(name: string, x: T): T {
    return tf.layers.batchNormalization({ name, momentum: this.momentum }).apply(x) as T;
  }

  bnRelu(name: string, x: T, max?: number): T {
    return tf.layers.reLU({ name: `${name}_relu`, ...(max === undefined ? {} : { maxValue: max }) }).apply(this.bn(`${name}_bn`, x)) as T;
  }

  /** Global average pooling and the softmax classifier "fc". */
  head(x: T, classes: number): T {
    const pooled = tf.layers.globalAveragePooling2d({ name: "gap" }).apply(x) as T;
    return tf.layers.dense({ name: "fc", units: classes, activation: "softmax", kernelInitializer: this.init() }).apply(pooled) as T;
  }
}

function checkCommon(model: string, options: BranchingOptions): { shape: [number, number, number]; classes: number } {
  const shape = checkImageShape(model, options.inputShape ?? [28, 28, 1]);
  const classes = options.classes ?? 10;
  checkSize(model, "classes", classes);
  return { shape, classes };
}

function checkList<V>(model: string, what: string, list: unknown, example: string): readonly V[] {
  if (!Array.isArray(list) || list.length === 0) {
    throw new SlimlabError("E_ARG", `${model} ${what} ${show(list)} is not allowed: pass a non-empty array, e.g. ${example}`);
  }
  return list as V[];
}

/** Options of {@link resnet}. */
export interface ResnetOptions extends BranchingOptions {
  /** Channels of each stage; every stage after the first starts with a stride-2 block. Default [8, 16]. */
  widths?: readonly number[];
  /** Residual blocks per stage. Default 2. */
  blocks?: number;
  /** Model name. Default "resnet". */
  name?: string;
}

/**
 * A ResNet-style classifier (He et al. 2016, basic blocks): stem conv 3×3 →
 * BN → ReLU, then per stage s and block b ("s1b1", ...) "_conv1" 3×3 →
 * "_conv1_bn" → "_conv1_relu" → "_conv2" 3×3 → "_conv2_bn", added ("_add")
 * to the block's input (or to a 1×1 "_proj" conv + "_proj_bn" when the
 * stride or width changes) and passed through "_relu"; then global average
 * pooling "gap" and a softmax "fc".
 * Uncompiled; takes images [N, ...inputShape].
 *
 * @param options widths (default [8, 16]), blocks per stage (default 2),
 *   inputShape (default [28, 28, 1]), classes (default 10), bnMomentum (default 0.99), seed, name
 * @returns a new uncompiled functional model
 * @throws SlimlabError E_ARG for a non-positive width, block count or class
 *   count, an empty widths list, a bad input shape or seed
 * @example
 *   const m = resnet({ widths: [8, 16], blocks: 1, seed: 1 });
 *   m.getLayer("s2b1_add").getClassName(); // "Add"
 */
export function resnet(options: ResnetOptions = {}): tf.LayersModel {
  const { shape, classes } = checkCommon("resnet", options);
  const widths = checkList<number>("resnet", "widths", options.widths ?? [8, 16], "[8, 16]");
  widths.forEach((w, i) => checkSize("resnet", `widths[${i}]`, w));
  const blocks = options.blocks ?? 2;
  checkSize("resnet", "blocks", blocks);
  const b = new Builder("resnet", options);
  const input = tf.input({ shape, name: "input" });
  let x = b.convBnRelu("stem", input, widths[0], 3);
  let channels = widths[0];
  widths.forEach((width, s) => {
    for (let k = 0; k < blocks; k++) {
      const p = `s${s + 1}b${k + 1}`;
      const stride = s > 0 && k === 0 ? 2 : 1;
      const y = b.bn(`${p}_conv2_bn`, b.conv(`${p}_conv2`, b.bnRelu(`${p}_conv1`, b.conv(`${p}_conv1`, x, width, 3, stride)), width, 3));
      const shortcut = stride === 1 && channels === width ? x : b.bn(`${p}_proj_bn`, b.conv(`${p}_proj`, x, width, 1, stride));
      const sum = tf.layers.add({ name: `${p}_add` }).apply([y, shortcut]) as T;
      x = tf.layers.reLU({ name: `${p}_relu` }).apply(sum) as T;
      channels = width;
    }
  });
  return tf.model({ name: options.name ?? "resnet", inputs: input, outputs: b.head(x, classes) });
}

/** One stage of inverted residual blocks. */
export interface InvertedResidualStage {
  /** Output channels of every block of the stage. */
  channels: number;
  /** Blocks in the stage. */
  blocks: number;
  /** Stride of the stage's first block (the others use 1): 1 or 2. */
  stride: number;
  /** Expansion factor t: the hidden width is t × the block's input channels (1: no expand conv). */
  expansion: number;
}

/** Options of {@link mobilenetV2}. */
export interface MobilenetV2Options extends BranchingOptions {
  /** Channels of the stem conv. Default 8. */
  stem?: number;
  /** The stages. Default: 8 channels ×1 (t 1), 12 ×2 (stride 2, t 4), 16 ×2 (stride 2, t 4). */
  stages?: readonly InvertedResidualStage[];
  /** Channels of the 1×1 conv before pooling. Default 48. */
  head?: number;
  /** Model name. Default "mobilenetV2". */
  name?: string;
}

/** The default stages of {@link mobilenetV2}: 28×28 → 28 → 14 → 7. */
export const MOBILENET_V2_STAGES: readonly InvertedResidualStage[] = [
  { channels: 8, blocks: 1, stride: 1, expansion: 1 },
  { channels: 12, blocks: 2, stride: 2, expansion: 4 },
  { channels: 16, blocks: 2, stride: 2, expansion: 4 },
];

/**
 * MobileNetV2's own widths for its first four stages (Sandler et al. 2018,
 * Table 2: stem 32; 16 channels with expansion 1; 24, 32 and 64 with
 * expansion 6), with two 64-channel blocks instead of four and a 256-channel
 * head instead of 1280: sized for 32×32 images, where it has 157k parameters
 * (on 32×32×3). `mobilenetV2({ ...MOBILENET_V2_WIDE, inputShape: [32, 32, 3] })`.
 * The default widths are several times narrower, for quick training on MNIST.
 */
export const MOBILENET_V2_WIDE: Readonly<Pick<MobilenetV2Options, "stem" | "stages" | "head">> = {
  stem: 32,
  head: 256,
  stages: [
    { channels: 16, blocks: 1, stride: 1, expansion: 1 },
    { channels: 24, blocks: 2, stride: 2, expansion: 6 },
    { channels: 32, blocks: 3, stride: 2, expansion: 6 },
    { channels: 64, blocks: 2, stride: 2, expansion: 6 },
  ],
};

function checkStage(st: InvertedResidualStage, i: number): void {
  for (const key of ["channels", "blocks", "expansion"] as const) checkSize("mobilenetV2", `stages[${i}].${key}`, st?.[key]);
  if (st.stride !== 1 && st.stride !== 2) throw new SlimlabError("E_ARG", `mobilenetV2 stages[${i}].stride ${show(st.stride)} is not allowed: pass 1 or 2`);
}

/**
 * A MobileNetV2-style classifier (Sandler et al. 2018): stem conv 3×3 → BN →
 * ReLU6, then inverted residual blocks "b1", "b2", ...: "_expand" 1×1 conv →
 * BN → ReLU6 (left out when the expansion is 1), "_dw" depthwise 3×3 → BN →
 * ReLU6, "_project" 1×1 conv → BN (linear bottleneck), and "_add" of the
 * block's input when stride is 1 and the widths match; then a "head" 1×1
 * conv → BN → ReLU6, global average pooling "gap" and a softmax "fc".
 * Uncompiled; takes images [N, ...inputShape].
 *
 * @param options stem, stages, head, inputShape (default [28, 28, 1]),
 *   classes (default 10), bnMomentum (default 0.99), seed, name
 * @returns a new uncompiled functional model
 * @throws SlimlabError E_ARG for a non-positive width, block count or
 *   expansion, a stride other than 1 or 2, a bad input shape or seed
 * @example
 *   const m = mobilenetV2({ seed: 1 });
 *   m.getLayer("b3_add").getClassName(); // "Add"
 */
export function mobilenetV2(options: MobilenetV2Options = {}): tf.LayersModel {
  const { shape, classes } = checkCommon("mobilenetV2", options);
  const stem = options.stem ?? 8;
  const headWidth = options.head ?? 48;
  checkSize("mobilenetV2", "stem", stem);
  checkSize("mobilenetV2", "head", headWidth);
  const stages = checkList<InvertedResidualStage>("mobilenetV2", "stages", options.stages ?? MOBILENET_V2_STAGES, "[{channels: 8, blocks: 1, stride: 1, expansion: 1}]");
  stages.forEach(checkStage);
  const b = new Builder("mobilenetV2", options);
  const input = tf.input({ shape, name: "input" });
  let x = b.convBnRelu("stem", input, stem, 3, 1, 6);
  let channels = stem;
  let n = 0;
  for (const st of stages) {
    for (let k = 0; k < st.blocks; k++) {
      const p = `b${++n}`;
      const stride = k === 0 ? st.stride : 1;
      const hidden = channels * st.expansion;
      const expanded = st.expansion === 1 ? x : b.convBnRelu(`${p}_expand`, x, hidden, 1, 1, 6);
      const dw = b.bnRelu(`${p}_dw`, b.depthwise(`${p}_dw`, expanded, stride), 6);
      const y = b.bn(`${p}_project_bn`, b.conv(`${p}_project`, dw, st.channels, 1));
      x = stride === 1 && channels === st.channels ? (tf.layers.add({ name: `${p}_add` }).apply([x, y]) as T) : y;
      channels = st.channels;
    }
  }
  x = b.convBnRelu("head", x, headWidth, 1, 1, 6);
  return tf.model({ name: options.name ?? "mobilenetV2", inputs: input, outputs: b.head(x, classes) });
}

/** Widths of one Inception block: [1×1, 3×3 reduce, 3×3, pool projection]. */
export type InceptionBlock = readonly [number, number, number, number];

/** Options of {@link inception}. */
export interface InceptionOptions extends BranchingOptions {
  /** Channels of the stem conv. Default 8. */
  stem?: number;
  /** One entry per block. Default [[4, 4, 8, 4], [8, 6, 12, 4]]. */
  blocks?: readonly InceptionBlock[];
  /** Model name. Default "inception". */
  name?: string;
}

/**
 * An Inception-style classifier (Szegedy et al. 2015, GoogLeNet's module
 * without the 5×5 branch): stem conv 3×3 → BN → ReLU → 2×2 max pooling
 * "stem_pool", then blocks "i1", "i2", ... of four parallel branches, each
 * conv → BN → ReLU: "_1x1"; "_3x3r" 1×1 then "_3x3" 3×3; "_pool" 3×3 max
 * pooling (stride 1) then "_poolproj" 1×1; joined by "_concat" along the
 * channels; then global average pooling "gap" and a softmax "fc".
 * Uncompiled; takes images [N, ...inputShape].
 *
 * @param options stem, blocks, inputShape (default [28, 28, 1]), classes
 *   (default 10), bnMomentum (default 0.99), seed, name
 * @returns a new uncompiled functional model
 * @throws SlimlabError E_ARG for a non-positive width, an empty or
 *   malformed blocks list, a bad input shape or seed
 * @example
 *   const m = inception({ seed: 1 });
 *   m.getLayer("i1_concat").outputShape; // [null, 14, 14, 16]
 */
export function inception(options: InceptionOptions = {}): tf.LayersModel {
  const { shape, classes } = checkCommon("inception", options);
  const stem = options.stem ?? 8;
  checkSize("inception", "stem", stem);
  const blocks = checkList<InceptionBlock>("inception", "blocks", options.blocks ?? [[4, 4, 8, 4], [8, 6, 12, 4]], "[[4, 4, 8, 4]]");
  blocks.forEach((blk, i) => {
    if (!Array.isArray(blk) || blk.length !== 4) throw new SlimlabError("E_ARG", `inception blocks[${i}] ${show(blk)} is not allowed: pass [1×1, 3×3 reduce, 3×3, pool projection] widths, e.g. [4, 4, 8, 4]`);
    blk.forEach((w, j) => checkSize("inception", `blocks[${i}][${j}]`, w));
  });
  const b = new Builder("inception", options);
  const input = tf.input({ shape, name: "input" });
  let x = tf.layers.maxPooling2d({ name: "stem_pool", poolSize: 2 }).apply(b.convBnRelu("stem", input, stem, 3)) as T;
  blocks.forEach(([w1, w3r, w3, wp], i) => {
    const p = `i${i + 1}`;
    const one = b.convBnRelu(`${p}_1x1`, x, w1, 1);
    const three = b.convBnRelu(`${p}_3x3`, b.convBnRelu(`${p}_3x3r`, x, w3r, 1), w3, 3);
    const pooled = tf.layers.maxPooling2d({ name: `${p}_pool`, poolSize: 3, strides: 1, padding: "same" }).apply(x) as T;
    const proj = b.convBnRelu(`${p}_poolproj`, pooled, wp, 1);
    x = tf.layers.concatenate({ name: `${p}_concat`, axis: -1 }).apply([one, three, proj]) as T;
  });
  return tf.model({ name: options.name ?? "inception", inputs: input, outputs: b.head(x, classes) });
}
