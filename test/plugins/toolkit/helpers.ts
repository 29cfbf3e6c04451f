/** Small seeded models and comparisons shared by the toolkit tests. */
import * as tf from "@tensorflow/tfjs";
import { init, randomizeBatchNorm } from "../../support/assertions";

export { assertClose, assertDiffers, assertNoLeak, assertRejects, assertSlimlab, init, predict, randomizeBatchNorm, release } from "../../support/assertions";

/** 4 → fc1(6, relu) → fc2(5, relu) → out(3, softmax). */
export function denseNet(seed = 1): tf.Sequential {
  return tf.sequential({
    name: "dense_net",
    layers: [
      tf.layers.dense({ name: "fc1", units: 6, activation: "relu", inputShape: [4], kernelInitializer: init(seed), biasInitializer: "ones" }),
      tf.layers.dense({ name: "fc2", units: 5, activation: "relu", kernelInitializer: init(seed + 1) }),
      tf.layers.dense({ name: "out", units: 3, activation: "softmax", kernelInitializer: init(seed + 2) }),
    ],
  });
}

/** [6, 6, 2] → conv1(4) → bn → relu → maxpool → dropout → flatten(16) → fc(5) → out(3, softmax). */
export function convNet(seed = 1): tf.Sequential {
  const m = tf.sequential({
    name: "conv_net",
    layers: [
      tf.layers.conv2d({ name: "conv1", filters: 4, kernelSize: 3, inputShape: [6, 6, 2], kernelInitializer: init(seed), biasInitializer: "ones" }),
      tf.layers.batchNormalization({ name: "bn" }),
      tf.layers.activation({ name: "relu", activation: "relu" }),
      tf.layers.maxPooling2d({ name: "pool", poolSize: 2 }),
      tf.layers.dropout({ name: "drop", rate: 0.5 }),
      tf.layers.flatten({ name: "flat" }),
      tf.layers.dense({ name: "fc", units: 5, activation: "relu", kernelInitializer: init(seed + 1) }),
      tf.layers.dense({ name: "out", units: 3, activation: "softmax", kernelInitializer: init(seed + 2) }),
    ],
  });
  randomizeBatchNorm(m.getLayer("bn"), seed);
  return m;
}

export function input(shape: number[], seed = 7): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, "float32", seed);
}

