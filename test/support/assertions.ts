/** Generic assertions and small tensor utilities shared by the plugin test suites. */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";

/** Options for the SlimlabError assertions. */
export interface SlimlabCheck {
  /** Also require the message to be a single line (the kernel shows it as is). */
  oneLine?: boolean;
}

/** Checks `e` is a SlimlabError with this code and exact message (or matching pattern); returns true for assert.throws/rejects. */
export function checkSlimlabError(e: unknown, code: string, message: string | RegExp, opts: SlimlabCheck = {}): true {
  const err = e as { name?: string; code?: string; message?: string };
  assert.strictEqual(err.name, "SlimlabError", String(e));
  assert.strictEqual(err.code, code, err.message);
  if (typeof message === "string") assert.strictEqual(err.message, message);
  else assert.match(err.message ?? "", message);
  if (opts.oneLine) assert.ok(!(err.message ?? "").includes("\n"), "the message is one line");
  return true;
}

/** Asserts `fn` throws a SlimlabError with this code and exact message (or pattern). */
export function assertSlimlab(fn: () => unknown, code: string, message: string | RegExp, opts: SlimlabCheck = {}): void {
  assert.throws(fn, (e: unknown) => checkSlimlabError(e, code, message, opts));
}

/** Asserts `p` (a promise, or a function returning one) rejects with a SlimlabError with this code and exact message (or pattern). */
export async function assertRejects(p: Promise<unknown> | (() => Promise<unknown>), code: string, message: string | RegExp, opts: SlimlabCheck = {}): Promise<void> {
  await assert.rejects(typeof p === "function" ? p() : p, (e: unknown) => checkSlimlabError(e, code, message, opts));
}

/** Runs `fn` several times and checks tf.memory().numTensors does not grow after the first run. */
export async function assertNoLeak(fn: () => unknown | Promise<unknown>, runs = 3): Promise<void> {
  await fn();
  const before = tf.memory().numTensors;
  for (let i = 1; i < runs; i++) await fn();
  assert.strictEqual(tf.memory().numTensors, before, "tensor count grew over repeated runs");
}

/** Largest absolute difference of two arrays, which must have the same length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.strictEqual(a.length, b.length, "lengths differ");
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** Asserts two arrays have the same length and a max-abs difference of at most `tol`. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = "values"): void {
  assert.strictEqual(actual.length, expected.length, `${what}: lengths differ`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  assert.ok(worst <= tol, `${what}: max abs difference ${worst} > ${tol}`);
}

/** Asserts two outputs differ somewhere by more than `tol` (so an equality test is not vacuous). */
export function assertDiffers(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4, what = "values"): void {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  assert.ok(worst > tol, `${what}: expected a difference above ${tol}, max was ${worst}`);
}

/** Disposes tensors, tensor arrays and models alike. */
export function release(...items: Array<tf.Tensor | tf.LayersModel | tf.Tensor[]>): void {
  for (const item of items) {
    if (Array.isArray(item)) tf.dispose(item);
    else item.dispose();
  }
}

/** A seeded Glorot-uniform initializer. */
export const init = (seed: number) => tf.initializers.glorotUniform({ seed });

/** Output values of a model on `x` (inference mode), copied out of a tidy scope. */
export function predict(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
}

/** Gives a BatchNormalization layer non-trivial, seeded gamma, beta, moving mean and moving variance. */
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
