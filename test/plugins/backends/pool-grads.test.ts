import { strict as assert } from "assert";
import * as tf from "@tensorflow/tfjs";
import { maxPoolGrad, PoolGeometry } from "../../../plugins/backends/pool-grads";
import { assertClose, seededTensor, suiteBackend } from "./compare";

/* maxPoolGrad on the cpu backend against the cpu backend's own MaxPoolGrad. */

type Shape4 = [number, number, number, number];

const CASES: [Shape4, PoolGeometry][] = [
  [[2, 8, 8, 3], { filterSize: 2, strides: 2, pad: "valid" }],
  [[2, 9, 7, 2], { filterSize: 2, strides: 2, pad: "valid" }],
  [[2, 9, 7, 2], { filterSize: 2, strides: 2, pad: "same" }],
  [[2, 9, 9, 2], { filterSize: 3, strides: 2, pad: "same" }],
  [[1, 7, 7, 2], { filterSize: 3, strides: 1, pad: "valid" }],
  [[1, 9, 9, 2], { filterSize: [3, 2], strides: [2, 3], pad: "valid" }],
  [[1, 6, 6, 2], { filterSize: 2, strides: 2, pad: 1 }],
  [[1, 6, 6, 1], { filterSize: 3, strides: 2, pad: [[0, 0], [1, 0], [0, 2], [0, 0]] }],
];

describe("backends/pool-grads (on cpu)", () => {
  suiteBackend("cpu");

  for (const [xs, g] of CASES) {
    it(`equals the cpu kernel on mostly negative input: ${xs}, ${JSON.stringify(g)}`, () => {
      tf.tidy(() => {
        const x = tf.sub(seededTensor(xs, 1), 0.7) as tf.Tensor4D;
        const y = tf.maxPool(x, g.filterSize, g.strides, g.pad);
        const dy = seededTensor(y.shape, 2) as tf.Tensor4D;
        const want = tf.engine().runKernel(tf.MaxPoolGrad, { dy, input: x, output: y }, { ...g }) as tf.Tensor;
        const got = maxPoolGrad(dy, x, y, g);
        assert.deepEqual(got.shape, xs);
        assertClose([got.dataSync()], [want.dataSync()], JSON.stringify(g), 1e-6);
      });
    });
  }

  it("gives a tied window's gradient to its first maximum in row-major order", () => {
    const got = tf.tidy(() => {
      const x = tf.tensor4d([1, 1, 0, 2, 1, 0, 2, 2], [1, 2, 4, 1]);
      const y = tf.maxPool(x, 2, 2, "valid");
      return Array.from(maxPoolGrad(tf.onesLike(y), x, y, { filterSize: 2, strides: 2, pad: "valid" }).dataSync());
    });
    assert.deepEqual(got, [1, 0, 0, 1, 0, 0, 0, 0]);
  });

  it("leaves no tensors behind over repeated calls", () => {
    const x = seededTensor([1, 6, 6, 2], 3) as tf.Tensor4D;
    const run = (g: PoolGeometry) => tf.tidy(() => {
      const y = tf.maxPool(x, g.filterSize, g.strides, g.pad);
      return maxPoolGrad(tf.onesLike(y), x, y, g);
    }).dispose();
    const geometries: PoolGeometry[] = [{ filterSize: 2, strides: 2, pad: "valid" }, { filterSize: 3, strides: 2, pad: "same" }];
    geometries.forEach(run);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) geometries.forEach(run);
    assert.equal(tf.memory().numTensors, before);
    x.dispose();
  });
});
