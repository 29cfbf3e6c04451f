import { strict as assert } from "assert";
import * as tf from "@tensorflow/tfjs";
import { registerFastGradients, unregisterFastGradients } from "../../../plugins/backends/fast-grads";
import { useSimdKernels } from "../../../plugins/backends/simd-kernels";
import { registerWasmGradients } from "../../../plugins/backends/wasm-gradients";
import { assertClose, seededTensor, suiteBackend, valuesOn } from "./compare";

/*
 * slimlab's gradients of FusedBatchNorm, ClipByValue and Relu6 against
 * tfjs-core's own, on the same inputs: on cpu and on wasm, and on wasm with
 * the SIMD kernels off (the JavaScript loops).
 */

const NAMES = ["FusedBatchNorm", "ClipByValue", "Relu6"];

/** Values of `fn` with tfjs-core's gradients, then with slimlab's, on `backend`. */
async function stockAndFast(backend: string, fn: () => tf.Tensor[]): Promise<[Float32Array[], Float32Array[]]> {
  unregisterFastGradients();
  try {
    const stock = await valuesOn(backend, fn);
    registerFastGradients();
    return [stock, await valuesOn(backend, fn)];
  } finally {
    registerFastGradients();
  }
}

/** Gradients of Σ w·batchNorm(x) with respect to x, offset and scale, the statistics taken from the batch (training). */
function batchNormTraining(): tf.Tensor[] {
  const x = seededTensor([3, 5, 4, 6], 1);
  const offset = seededTensor([6], 2);
  const scale = tf.add(seededTensor([6], 3), 1.5);
  const w = seededTensor([3, 5, 4, 6], 4);
  return tf.grads((a, b, c) => {
    const { mean, variance } = tf.moments(a, [0, 1, 2]);
    return tf.sum(tf.mul(tf.batchNorm(a, mean, variance, b, c, 1e-3), w));
  })([x, offset, scale]);
}

/** Gradients with respect to all five inputs, statistics given. (Without a scale, tfjs-core's own gradient fails on cpu.) */
function batchNormGiven(): tf.Tensor[] {
  const x = seededTensor([2, 3, 3, 5], 5);
  const mean = seededTensor([5], 6);
  const variance = tf.add(tf.abs(seededTensor([5], 7)), 0.1);
  const offset = seededTensor([5], 8);
  const scale = seededTensor([5], 9);
  const w = seededTensor([2, 3, 3, 5], 10);
  return tf.grads((a, m, v, o, s) => tf.sum(tf.mul(tf.batchNorm(a, m, v, o, s, 1e-3), w)))([x, mean, variance, offset, scale]);
}

/** x with values exactly on the bounds, outside them, and NaN. */
function clipInputs(): tf.Tensor {
  const edges = [-1, 0, 6, 6.0001, -0.0001, NaN, 3, 7, 0.5];
  return tf.concat([tf.tensor1d(edges), tf.mul(seededTensor([40], 11), 8)]);
}

function clipGrads(): tf.Tensor[] {
  const x = clipInputs();
  const w = tf.add(tf.abs(seededTensor(x.shape, 12)), 0.5);
  return [
    tf.grad((t) => tf.sum(tf.mul(tf.clipByValue(t, 0, 6), w)))(x),
    tf.grad((t) => tf.sum(tf.mul(tf.clipByValue(t, -1, 0.5), w)))(x),
    tf.grad((t) => tf.sum(tf.mul(tf.relu6(t), w)))(x),
  ];
}

describe("backends/fast-grads", function () {
  this.timeout(60000);
  suiteBackend("wasm", () => {
    require("@tensorflow/tfjs-backend-wasm");
    registerWasmGradients();
  });

  it("registers the three gradients idempotently, and unregistering puts tfjs-core's back", () => {
    assert.deepEqual(registerFastGradients(), NAMES);
    const ours = NAMES.map((n) => tf.getGradient(n).gradFunc);
    assert.deepEqual(registerFastGradients(), NAMES);
    assert.deepEqual(NAMES.map((n) => tf.getGradient(n).gradFunc), ours, "a second call re-wrapped them");
    assert.deepEqual(unregisterFastGradients(), NAMES);
    NAMES.forEach((n, i) => assert.notEqual(tf.getGradient(n).gradFunc, ours[i], n));
    assert.deepEqual(registerFastGradients(), NAMES);
  });

  for (const [backend, simd] of [["cpu", true], ["wasm", true], ["wasm", false]] as const) {
    const where = backend === "cpu" ? "cpu" : `wasm, ${simd ? "SIMD kernels" : "JavaScript loops"}`;
    it(`batch norm: every input's gradient equals tfjs-core's (${where})`, async () => {
      const was = useSimdKernels(simd);
      try {
        for (const fn of [batchNormTraining, batchNormGiven]) {
          const [stock, fast] = await stockAndFast(backend, fn);
          assertClose(fast, stock, `${fn.name} on ${where}`, 1e-5);
        }
      } finally {
        useSimdKernels(was);
      }
    });

    it(`clipByValue and relu6: the gradients equal tfjs-core's exactly at the bounds and beyond; 0 at NaN on wasm (${where})`, async () => {
      const was = useSimdKernels(simd);
      try {
        const [stock, fast] = await stockAndFast(backend, clipGrads);
        // tfjs-core's composition gives NaN at x = NaN on wasm and 0 on cpu; slimlab's gives 0 on both (index 5).
        // On cpu (no wasm heap) slimlab keeps tfjs-core's formula, NaN handling included.
        const NAN_AT = 5;
        const withoutNan = (g: Float32Array) => Array.from(g).filter((_, i) => backend === "cpu" || i !== NAN_AT);
        assert.deepEqual(fast.map(withoutNan), stock.map(withoutNan));
        if (backend === "wasm") fast.forEach((g, i) => assert.equal(g[NAN_AT], 0, `gradient ${i} at NaN`));
        // The values themselves: dy (the weight) on [0, 6], 0 outside and at NaN; relu6 also 0 at x = 0.
        const [w] = await valuesOn(backend, () => [tf.add(tf.abs(seededTensor([49], 12)), 0.5)]);
        assert.deepEqual(Array.from(fast[0].slice(0, 9)), [0, w[1], w[2], 0, 0, 0, w[6], 0, w[8]]);
        assert.deepEqual(Array.from(fast[2].slice(0, 3)), [0, 0, w[2]]);
      } finally {
        useSimdKernels(was);
      }
    });
  }

  it("batch norm with statistics of another rank keeps tfjs-core's formula (same values)", async () => {
    const fn = () => {
      const x = seededTensor([2, 3, 3, 4], 13);
      const mean = seededTensor([1, 1, 1, 4], 14);
      const variance = tf.add(tf.abs(seededTensor([1, 1, 1, 4], 15)), 0.1);
      const [offset, scale] = [seededTensor([1, 1, 1, 4], 16), seededTensor([1, 1, 1, 4], 17)];
      return [tf.grad((a) => tf.sum(tf.batchNorm(a, mean, variance, offset, scale, 1e-3)))(x)];
    };
    const [stock, fast] = await stockAndFast("wasm", fn);
    assert.deepEqual(Array.from(fast[0]), Array.from(stock[0]));
  });
});
