/**
 * Reference MNIST models: the ones the papers and the articles (seeds/) use,
 * so that results can be compared with published numbers, and small
 * branching models (residual, inverted residual, Inception: branching.ts).
 *
 * Every factory returns a new, UNCOMPILED tf.LayersModel: the caller picks the
 * optimizer and loss (the last layer is softmax, so use categoricalCrossentropy
 * with one-hot labels or sparseCategoricalCrossentropy with int labels).
 * Layers have stable names (conv1, pool1, fc1, ...) so pruning and
 * quantization reports can refer to them.
 *
 * With `seed`, kernel initialisation is deterministic: the same seed gives
 * bit-identical weights. Biases start at zero. Dropout masks are not seeded:
 * a fixed dropout seed would draw the same mask at every training step.
 */

import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show, suggestion } from "../core/errors";
import type { MnistShape } from "../data/mnist";
import { inception, mobilenetV2, resnet } from "./branching";
import { kernelInit, ZooOptions } from "./init";

export type { ZooOptions } from "./init";
export { inception, MOBILENET_V2_STAGES, MOBILENET_V2_WIDE, mobilenetV2, resnet } from "./branching";
export type { BranchingOptions, InceptionBlock, InceptionOptions, InvertedResidualStage, MobilenetV2Options, ResnetOptions } from "./branching";

/** Options of {@link mlp}. */
export interface MlpOptions extends ZooOptions {
  /** Input width. Default 784 (flattened 28×28). */
  inputSize?: number;
  /** Output classes. Default 10. */
  classes?: number;
  /** Dropout rate after each hidden layer, in [0, 1). Default 0 (none). */
  dropout?: number;
  /** Model name. Default "mlp". */
  name?: string;
}

/**
 * A fully connected classifier: hidden ReLU layers fc1..fcK, then a softmax
 * layer fc(K+1). Uncompiled.
 *
 * @param hidden widths of the hidden layers, e.g. [300, 100]
 * @param options seed, inputSize, classes, dropout, name
 * @returns a new uncompiled model taking [N, inputSize]
 * @throws SlimlabError E_ARG for non-positive widths, a bad dropout rate or seed
 * @example
 *   const teacher = mlp([1200, 1200], { dropout: 0.5, seed: 1, name: "teacher" }); // Hinton et al. 2015
 */
export function mlp(hidden: readonly number[], options: MlpOptions = {}): tf.LayersModel {
  const { inputSize = 784, classes = 10, dropout = 0, name = "mlp" } = options;
  const sizes: [string, number][] = [["inputSize", inputSize], ["classes", classes], ...hidden.map((u, i): [string, number] => [`hidden[${i}]`, u])];
  for (const [what, v] of sizes) {
    if (!Number.isInteger(v) || v < 1) {
      throw new SlimlabError("E_ARG", `mlp ${what} ${show(v)} is not allowed: pass a positive integer`);
    }
  }
  if (typeof dropout !== "number" || !(dropout >= 0 && dropout < 1)) {
    throw new SlimlabError("E_ARG", `mlp dropout ${show(dropout)} is not allowed: pass a rate in [0, 1), e.g. 0.5`);
  }
  const init = kernelInit(options);
  const model = tf.sequential({ name });
  hidden.forEach((units, i) => {
    model.add(tf.layers.dense({ units, activation: "relu", name: `fc${i + 1}`, kernelInitializer: init(), ...(i === 0 ? { inputShape: [inputSize] } : {}) }));
    if (dropout > 0) model.add(tf.layers.dropout({ rate: dropout, name: `drop${i + 1}` }));
  });
  model.add(tf.layers.dense({ units: classes, activation: "softmax", name: `fc${hidden.length + 1}`, kernelInitializer: init(), ...(hidden.length === 0 ? { inputShape: [inputSize] } : {}) }));
  return model;
}

/**
 * LeNet-300-100 (LeCun et al. 1998; the MLP of Han et al. 2015):
 * 784 → fc1 300 relu → fc2 100 relu → fc3 10 softmax; 266,610 parameters.
 * Uncompiled; takes flat images [N, 784].
 *
 * @param options seed
 * @returns a new uncompiled model
 * @throws SlimlabError E_ARG for a non-integer seed
 * @example
 *   const m = lenet300100({ seed: 1 });
 *   m.countParams(); // 266610
 */
export function lenet300100(options: ZooOptions = {}): tf.LayersModel {
  return mlp([300, 100], { ...options, name: "lenet300100" });
}

/**
 * LeNet-5, Caffe variant (examples/mnist/lenet.prototxt, used by Han et al.
 * 2015): conv1 20@5×5 valid → pool1 2×2 → conv2 50@5×5 valid → pool2 2×2 →
 * flatten (800) → fc1 500 relu → fc2 10 softmax; 431,080 parameters. As in
 * Caffe, the convolutions have no activation of their own. Uncompiled;
 * takes images [N, 28, 28, 1].
 *
 * @param options seed
 * @returns a new uncompiled model
 * @throws SlimlabError E_ARG for a non-integer seed
 * @example
 *   lenet5().countParams(); // 431080
 */
export function lenet5(options: ZooOptions = {}): tf.LayersModel {
  const init = kernelInit(options);
  return tf.sequential({
    name: "lenet5",
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 20, kernelSize: 5, padding: "valid", name: "conv1", kernelInitializer: init() }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: "pool1" }),
      tf.layers.conv2d({ filters: 50, kernelSize: 5, padding: "valid", name: "conv2", kernelInitializer: init() }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: "pool2" }),
      tf.layers.flatten({ name: "flatten" }),
      tf.layers.dense({ units: 500, activation: "relu", name: "fc1", kernelInitializer: init() }),
      tf.layers.dense({ units: 10, activation: "softmax", name: "fc2", kernelInitializer: init() }),
    ],
  });
}

/**
 * The PyTorch MNIST example CNN of article 000: conv1 32@3×3 relu → conv2
 * 64@3×3 relu → pool1 2×2 → drop1 0.25 → flatten (9216) → fc1 128 relu →
 * drop2 0.5 → fc2 10 softmax; 1,199,882 parameters. The article's forward()
 * omits the ReLU after conv2 that the official pytorch/examples model has; we
 * keep it. Softmax replaces log_softmax so tfjs losses apply directly.
 * Uncompiled; takes images [N, 28, 28, 1] (NHWC, so fc1's weight rows are in
 * a different order than PyTorch's NCHW flatten; the count is the same).
 *
 * @param options seed
 * @returns a new uncompiled model
 * @throws SlimlabError E_ARG for a non-integer seed
 * @example
 *   pytorchMnistCnn({ seed: 0 }).getLayer("fc1").countParams(); // 1179776
 */
export function pytorchMnistCnn(options: ZooOptions = {}): tf.LayersModel {
  const init = kernelInit(options);
  return tf.sequential({
    name: "pytorchMnistCnn",
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: "relu", name: "conv1", kernelInitializer: init() }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu", name: "conv2", kernelInitializer: init() }),
      tf.layers.maxPooling2d({ poolSize: 2, name: "pool1" }),
      tf.layers.dropout({ rate: 0.25, name: "drop1" }),
      tf.layers.flatten({ name: "flatten" }),
      tf.layers.dense({ units: 128, activation: "relu", name: "fc1", kernelInitializer: init() }),
      tf.layers.dropout({ rate: 0.5, name: "drop2" }),
      tf.layers.dense({ units: 10, activation: "softmax", name: "fc2", kernelInitializer: init() }),
    ],
  });
}

/**
 * The Keras MNIST CNN of article 003: conv1 32@3×3 relu → pool1 → conv2
 * 64@3×3 relu → pool2 → conv3 64@3×3 relu → flatten (576) → fc1 64 relu →
 * fc2 10 softmax; 93,322 parameters. Uncompiled; takes images [N, 28, 28, 1].
 *
 * @param options seed
 * @returns a new uncompiled model
 * @throws SlimlabError E_ARG for a non-integer seed
 * @example
 *   kerasMnistCnn().countParams(); // 93322
 */
export function kerasMnistCnn(options: ZooOptions = {}): tf.LayersModel {
  const init = kernelInit(options);
  return tf.sequential({
    name: "kerasMnistCnn",
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: "relu", name: "conv1", kernelInitializer: init() }),
      tf.layers.maxPooling2d({ poolSize: 2, name: "pool1" }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu", name: "conv2", kernelInitializer: init() }),
      tf.layers.maxPooling2d({ poolSize: 2, name: "pool2" }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu", name: "conv3", kernelInitializer: init() }),
      tf.layers.flatten({ name: "flatten" }),
      tf.layers.dense({ units: 64, activation: "relu", name: "fc1", kernelInitializer: init() }),
      tf.layers.dense({ units: 10, activation: "softmax", name: "fc2", kernelInitializer: init() }),
    ],
  });
}

/** Names of the reference models, as magics accept them (`%model lenet5`). */
export type ZooModelName = "lenet300100" | "lenet5" | "pytorchMnistCnn" | "kerasMnistCnn" | "resnet" | "mobilenetV2" | "inception";

/** A reference model's entry: how to build it and what it expects. */
export interface ZooEntry {
  /** One line for help output. */
  readonly summary: string;
  /** The image layout it takes, as loadMnist's `shape` option names it. */
  readonly input: MnistShape;
  /** Parameter count, for checks and help output. */
  readonly params: number;
  readonly build: (options?: ZooOptions) => tf.LayersModel;
}

/** The reference models by name. A constant table, not a mutable registry. */
export const ZOO: Readonly<Record<ZooModelName, ZooEntry>> = {
  lenet300100: { summary: "MLP 784-300-100-10 (Han et al. 2015)", input: "flat", params: 266_610, build: lenet300100 },
  lenet5: { summary: "Caffe LeNet-5: conv20-pool-conv50-pool-fc500-fc10", input: "image", params: 431_080, build: lenet5 },
  pytorchMnistCnn: { summary: "PyTorch example CNN (article 000): conv32-conv64-pool-fc128-fc10", input: "image", params: 1_199_882, build: pytorchMnistCnn },
  kerasMnistCnn: { summary: "Keras CNN (article 003): conv32-pool-conv64-pool-conv64-fc64-fc10", input: "image", params: 93_322, build: kerasMnistCnn },
  resnet: { summary: "ResNet-style: stem8, 2 stages (8, 16) of 2 basic blocks with Add, GAP, fc10", input: "image", params: 11_218, build: resnet },
  mobilenetV2: { summary: "MobileNetV2-style: stem8, 5 inverted residual blocks (8, 12, 12, 16, 16), head48, GAP, fc10", input: "image", params: 10_426, build: mobilenetV2 },
  inception: { summary: "Inception-style: stem8-pool, 2 blocks of 1x1 / 1x1-3x3 / pool-1x1 branches joined by Concatenate, GAP, fc10", input: "image", params: 1_874, build: inception },
};

/**
 * Builds a reference model by name.
 *
 * @param name one of {@link ZooModelName}
 * @param options seed
 * @returns a new uncompiled model
 * @throws SlimlabError E_ARG for an unknown name (with "did you mean") or a bad seed
 * @example
 *   const m = zooModel("lenet5", { seed: 42 });
 */
export function zooModel(name: string, options: ZooOptions = {}): tf.LayersModel {
  const names = Object.keys(ZOO) as ZooModelName[];
  if (!(names as string[]).includes(name)) {
    throw new SlimlabError("E_ARG", `model ${show(name)} is unknown; allowed: ${names.join(", ")}${suggestion(name, names)}`);
  }
  return ZOO[name as ZooModelName].build(options);
}
