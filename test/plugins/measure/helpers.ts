/** Shared bits of the measure tests: backend choice, error and leak assertions, small models. */
import * as tf from "@tensorflow/tfjs";
import { assertRejects, assertSlimlab } from "../../support/assertions";

export { assertNoLeak, init, maxAbsDiff as maxDiff, predict as predictValues, randomizeBatchNorm as setBatchNorm } from "../../support/assertions";

/** Shared assertSlimlab, also requiring the message to be one line. */
export function assertThrowsSlimlab(fn: () => unknown, code: string, message: string | RegExp): void {
  assertSlimlab(fn, code, message, { oneLine: true });
}

/** Shared assertRejects (promise or function returning one), also requiring the message to be one line. */
export function assertRejectsSlimlab(p: Promise<unknown> | (() => Promise<unknown>), code: string, message: string | RegExp): Promise<void> {
  return assertRejects(p, code, message, { oneLine: true });
}

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

/** Weights of every layer, copied out (to check a model was not changed). */
export function snapshot(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array).map((a) => a.slice());
}
