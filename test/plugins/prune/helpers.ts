/** Small seeded models, data and assertions shared by the prune tests. */
import * as tf from "@tensorflow/tfjs";
import { Host, MimeBundle, setHost, textHost } from "../../../plugins/core/host";
import { init } from "../../support/assertions";

export { assertRejects as rejects, assertSlimlab as throwsSlimlab, init, maxAbsDiff, predict } from "../../support/assertions";

/** Every test file runs on the cpu backend (numerically the reference). */
export async function useCpu(): Promise<void> {
  await tf.setBackend("cpu");
}

/** Silences progress bars and displays; returns the bundles shown and a restore function. */
export function quietHost(): { shown: MimeBundle[]; restore: () => void } {
  const shown: MimeBundle[] = [];
  const base = textHost(() => undefined);
  const h: Host = { ...base, display: (b) => void shown.push(b) };
  const prev = setHost(h);
  return { shown, restore: () => void setHost(prev) };
}

/** 8 → fc1(12, relu) → fc2(10, relu) → out(3, softmax). */
export function mlp(seed = 1): tf.Sequential {
  return tf.sequential({
    name: "mlp",
    layers: [
      tf.layers.dense({ name: "fc1", units: 12, activation: "relu", inputShape: [8], kernelInitializer: init(seed), biasInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed }) }),
      tf.layers.dense({ name: "fc2", units: 10, activation: "relu", kernelInitializer: init(seed + 1), biasInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed + 1 }) }),
      tf.layers.dense({ name: "out", units: 3, activation: "softmax", kernelInitializer: init(seed + 2) }),
    ],
  });
}

/** [8, 8, 3] → conv1(6) → bn → relu → pool → conv2(8, same) → flatten → fc(7) → out(3, softmax). */
export function cnn(seed = 1): tf.Sequential {
  const m = tf.sequential({
    name: "cnn",
    layers: [
      tf.layers.conv2d({ name: "conv1", filters: 6, kernelSize: 3, inputShape: [8, 8, 3], kernelInitializer: init(seed), biasInitializer: "ones" }),
      tf.layers.batchNormalization({ name: "bn" }),
      tf.layers.activation({ name: "relu", activation: "relu" }),
      tf.layers.maxPooling2d({ name: "pool", poolSize: 2 }),
      tf.layers.conv2d({ name: "conv2", filters: 8, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: init(seed + 1) }),
      tf.layers.flatten({ name: "flat" }),
      tf.layers.dense({ name: "fc", units: 7, activation: "relu", kernelInitializer: init(seed + 2) }),
      tf.layers.dense({ name: "out", units: 3, activation: "softmax", kernelInitializer: init(seed + 3) }),
    ],
  });
  const bn = m.getLayer("bn");
  const values = tf.tidy(() => [
    tf.randomUniform([6], 0.5, 2, "float32", seed),
    tf.randomUniform([6], -1, 1, "float32", seed + 1),
    tf.randomUniform([6], -1, 1, "float32", seed + 2),
    tf.randomUniform([6], 0.5, 2, "float32", seed + 3),
  ]);
  bn.setWeights(values);
  tf.dispose(values);
  return m;
}

/** Labelled blobs for `classes` classes in `dims` dimensions (or images when shape is given). */
export function blobs(n: number, shape: number[], classes: number, seed: number): { xs: tf.Tensor; ys: tf.Tensor } {
  return tf.tidy(() => {
    const labels = Array.from({ length: n }, (_, i) => i % classes);
    const size = shape.reduce((a, b) => a * b, 1);
    const centers = tf.randomNormal([classes, size], 0, 1, "float32", seed);
    const xs = tf.add(tf.gather(centers, tf.tensor1d(labels, "int32")), tf.randomNormal([n, size], 0, 0.3, "float32", seed + 1));
    return { xs: tf.reshape(xs, [n, ...shape]), ys: tf.oneHot(tf.tensor1d(labels, "int32"), classes).toFloat() };
  });
}

/** All weights of a model as plain arrays (for bit-identical comparisons). */
export function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.weights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));
}

export function zeros(a: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === 0) n++;
  return n;
}

export function weight(model: tf.LayersModel, layer: string, index = 0): Float32Array {
  return model.getLayer(layer).weights[index].read().dataSync() as Float32Array;
}

