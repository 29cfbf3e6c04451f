/** Small seeded models and comparisons shared by the toolkit tests. */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";

export const init = (seed: number) => tf.initializers.glorotUniform({ seed });

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

/** Gives a BN layer non-trivial gamma, beta and moving statistics. */
export function randomizeBatchNorm(layer: tf.layers.Layer, seed: number): void {
  const c = layer.weights[0].shape[0] as number;
  const values = tf.tidy(() => [
    tf.randomUniform([c], 0.5, 2, "float32", seed),
    tf.randomUniform([c], -1, 1, "float32", seed + 1),
    tf.randomUniform([c], -1, 1, "float32", seed + 2),
    tf.randomUniform([c], 0.5, 2, "float32", seed + 3),
  ]);
  layer.setWeights(values);
  tf.dispose(values);
}

export function input(shape: number[], seed = 7): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, "float32", seed);
}

export function predict(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = "values"): void {
  assert.strictEqual(actual.length, expected.length, `${what}: lengths differ`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  assert.ok(worst <= tol, `${what}: max abs difference ${worst} > ${tol}`);
}

/** Asserts fn throws a SlimlabError with this code and exact message. */
export function assertSlimlab(fn: () => unknown, code: string, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    const err = e as { name?: string; code?: string; message?: string };
    assert.strictEqual(err.name, "SlimlabError", String(e));
    assert.strictEqual(err.code, code, err.message);
    if (typeof message === "string") assert.strictEqual(err.message, message);
    else assert.match(err.message ?? "", message);
    return true;
  });
}

export async function assertRejects(p: Promise<unknown>, code: string, message: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    const err = e as { name?: string; code?: string; message?: string };
    assert.strictEqual(err.name, "SlimlabError", String(e));
    assert.strictEqual(err.code, code, err.message);
    if (typeof message === "string") assert.strictEqual(err.message, message);
    else assert.match(err.message ?? "", message);
    return true;
  });
}

/** Runs fn several times and checks the tensor count does not grow after the first run. */
export async function assertNoLeak(fn: () => unknown | Promise<unknown>, runs = 3): Promise<void> {
  await fn();
  const before = tf.memory().numTensors;
  for (let i = 1; i < runs; i++) await fn();
  assert.strictEqual(tf.memory().numTensors, before, "tensor count grew over repeated runs");
}

/** Disposes tensors and models alike. */
export function release(...items: Array<tf.Tensor | tf.LayersModel | tf.Tensor[]>): void {
  for (const item of items) {
    if (Array.isArray(item)) tf.dispose(item);
    else item.dispose();
  }
}

/** Asserts two outputs differ somewhere by more than tol (so an equality test is not vacuous). */
export function assertDiffers(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4, what = "values"): void {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  assert.ok(worst > tol, `${what}: expected a difference above ${tol}, max was ${worst}`);
}
