import { strict as assert } from "assert";
import * as tf from "@tensorflow/tfjs";
import { segmentSumByScatter } from "../../../plugins/backends/segment-sum";
import { assertClose, seededTensor, suiteBackend } from "./compare";

describe("backends/segment-sum (on cpu)", () => {
  suiteBackend("cpu");

  it("sums rows by id and drops negative and out-of-range ids", () => {
    const got = tf.tidy(() => segmentSumByScatter(tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]), tf.tensor1d([2, 0, 2, -1, 3], "int32"), 3).arraySync());
    assert.deepEqual(got, [[3, 4], [0, 0], [6, 8]]);
  });

  it("equals tf.unsortedSegmentSum on the cpu kernel; 2-D ids act like the flattened rows", () => {
    tf.tidy(() => {
      const x = seededTensor([4, 3, 5], 1);
      const ids1 = tf.tensor1d([1, 0, 1, 3], "int32");
      const flat = [0, 2, 2, 1, 1, 5, 2, 0, 0, -1, 3, 1];
      const ids2 = tf.tensor2d(flat, [4, 3], "int32");
      const got = [segmentSumByScatter(x, ids1, 4), segmentSumByScatter(x, ids2, 4)];
      // tfjs's op takes 1-D ids only.
      const want = [tf.unsortedSegmentSum(x, ids1, 4), tf.unsortedSegmentSum(tf.reshape(x, [12, 5]), tf.tensor1d(flat, "int32"), 4)];
      assert.deepEqual(got[1].shape, [4, 5]);
      assertClose(got.map((t) => t.dataSync()), want.map((t) => t.dataSync()), "segment sum", 1e-6);
    });
  });

  it("keeps int32 values exact and handles zero rows", () => {
    tf.tidy(() => {
      const ints = segmentSumByScatter(tf.tensor1d([2 ** 24 + 1, 1], "int32"), tf.tensor1d([0, 0], "int32"), 1);
      assert.equal(ints.dtype, "int32");
      assert.deepEqual(ints.arraySync(), [2 ** 24 + 2]);
      const empty = segmentSumByScatter(tf.zeros([0, 3]), tf.zeros([0], "int32"), 2);
      assert.deepEqual(empty.arraySync(), [[0, 0, 0], [0, 0, 0]]);
    });
  });

  it("leaves no tensors behind over repeated calls", () => {
    const x = seededTensor([6, 2], 2);
    const ids = tf.tensor1d([0, 1, 0, 4, 1, 2], "int32");
    segmentSumByScatter(x, ids, 3).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) segmentSumByScatter(x, ids, 3).dispose();
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, ids]);
  });
});
