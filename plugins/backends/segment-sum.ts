/**
 * Unsorted segment sum written with scatterND.
 *
 * tfjs needs UnsortedSegmentSum for the gradient of gather (so for every
 * Embedding layer); tfjs-backend-wasm 4.22 lacks it. scatterND sums updates
 * that land on the same index, which is exactly a segment sum, and costs
 * O(rows · width), where the one-hot matmul alternative costs
 * O(rows · segments · width) (measured on wasm, 1280 rows of 32 into 1000
 * segments: 7.6 ms against 62 ms).
 */
import * as tf from "@tensorflow/tfjs";

/**
 * out[k, ...] = Σ_{i : segmentIds[i] = k} x[i, ...], for k in [0, numSegments).
 * Rows whose id is negative or ≥ numSegments are dropped, like the cpu
 * backend does (TensorFlow's tf.math.unsorted_segment_sum, "Segmentation").
 *
 * @param x values; its leading dimensions match `segmentIds`' shape
 * @param segmentIds int32 ids, shape = x.shape[0 .. segmentIds.rank)
 * @param numSegments number of output rows
 * @returns a tensor [numSegments, ...x.shape[segmentIds.rank ..]] of x's dtype
 * @throws Error from tfjs when the shapes do not fit together
 * @example
 * segmentSumByScatter(tf.ones([4, 2]), tf.tensor1d([1, 1, 0, 2], "int32"), 3); // [[1,1],[2,2],[1,1]]
 */
export function segmentSumByScatter(x: tf.Tensor, segmentIds: tf.Tensor, numSegments: number): tf.Tensor {
  return tf.tidy(() => {
    const rows = segmentIds.size;
    const rest = x.shape.slice(segmentIds.rank);
    const width = rest.reduce((a, b) => a * b, 1);
    const values = tf.reshape(x, [rows, width]);
    const ids = tf.reshape(segmentIds, [rows]);
    // Out-of-range ids would write outside the output buffer in wasm's
    // ScatterNd: send them to row 0 with a zero update instead.
    const valid = tf.logicalAnd(tf.greaterEqual(ids, 0), tf.less(ids, numSegments));
    const safeIds = tf.where(valid, ids, tf.zerosLike(ids));
    const updates = tf.where(tf.expandDims(valid, 1), values, tf.zerosLike(values));
    const out = tf.scatterND(tf.expandDims(safeIds, 1), updates, [numSegments, width]);
    return tf.reshape(out, [numSegments, ...rest]);
  });
}
