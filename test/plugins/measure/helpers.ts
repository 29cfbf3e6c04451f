/** Shared bits of the measure tests: backend choice, error and leak assertions, small models. */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";

/** Runs the suite on `backend` and puts the previous backend back afterwards. */
export function onBackend(backend: string): void {
  let previous: string | undefined;
  before(async () => {
    previous = tf.getBackend() as string | undefined;
    await tf.setBackend(backend);
  });
  after(async () => {
    if (previous !== undefined && previous !== tf.getBackend()) await tf.setBackend(previous);
  });
}

type Expected = { code: string; message: string | RegExp };

function check(e: unknown, { code, message }: Expected): true {
  const err = e as { name?: string; code?: string; message?: string };
  assert.strictEqual(err.name, "SlimlabError", String(e));
  assert.strictEqual(err.code, code, err.message);
  if (typeof message === "string") assert.strictEqual(err.message, message);
  else assert.match(err.message ?? "", message);
  // One line: the kernel shows it as is.
  assert.ok(!(err.message ?? "").includes("\n"), "message is one line");
  return true;
}

/** Asserts `fn` throws a one-line SlimlabError with this code and message. */
export function assertThrowsSlimlab(fn: () => unknown, code: string, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => check(e, { code, message }));
}

/** Asserts `p` rejects with a one-line SlimlabError with this code and message. */
export async function assertRejectsSlimlab(p: Promise<unknown> | (() => Promise<unknown>), code: string, message: string | RegExp): Promise<void> {
  await assert.rejects(typeof p === "function" ? p() : p, (e: unknown) => check(e, { code, message }));
}

/** Runs `fn` several times; the tensor count must not grow after the first run. */
export async function assertNoLeak(fn: () => unknown | Promise<unknown>, runs = 3): Promise<void> {
  await fn();
  const before = tf.memory().numTensors;
  for (let i = 1; i < runs; i++) await fn();
  assert.strictEqual(tf.memory().numTensors, before, "tensor count grew over repeated runs");
}

/** Largest absolute difference of two arrays of the same length. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.strictEqual(a.length, b.length, "lengths differ");
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** Output values of a model on x (inference mode). */
export function predictValues(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
}

/** Sets a BatchNormalization layer's gamma, beta, moving mean and variance explicitly (non-trivial values). */
export function setBatchNorm(layer: tf.layers.Layer, seed: number): void {
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

/** Weights of every layer, copied out (to check a model was not changed). */
export function snapshot(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array).map((a) => a.slice());
}

export const init = (seed: number) => tf.initializers.glorotUniform({ seed });
