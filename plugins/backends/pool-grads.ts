/**
 * Max-pooling gradient written with slices and comparisons.
 *
 * tfjs-backend-wasm 4.22 has a MaxPoolGrad kernel, but it misroutes the
 * gradient of every window whose maximum is negative (it lands on the input's
 * first element, as if the running maximum started at 0 instead of −∞; its
 * MaxPoolWithArgmax has the same fault). A conv → maxPool stack without an
 * activation in between, or a maxPooling1d after a conv1d, then trains on
 * wrong gradients without any error. The version here gives the same result as the cpu backend: the
 * gradient of each window goes to its first maximum in row-major order.
 */
import * as tf from "@tensorflow/tfjs";
import { spread } from "./conv-grads";

/** Geometry of the forward pooling (the MaxPoolGrad kernel's attributes). */
export interface PoolGeometry {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/** Pads where the amount is positive and crops where it is negative. */
function padOrCrop(t: tf.Tensor4D, top: number, bottom: number, left: number, right: number, value = 0): tf.Tensor4D {
  const [, h, w] = t.shape;
  const cropTop = Math.max(0, -top);
  const cropLeft = Math.max(0, -left);
  const kept = tf.slice(t, [0, cropTop, cropLeft, 0], [-1, h - cropTop - Math.max(0, -bottom), w - cropLeft - Math.max(0, -right), -1]);
  const pads: [number, number][] = [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]];
  return tf.pad(kept, pads, value);
}

/**
 * Gradient of maxPool with respect to its input (the MaxPoolGrad kernel).
 *
 * For each of the fh·fw window offsets, the input values at that offset (the
 * input padded with −∞, so padding never wins) are compared with the pooled
 * output; the first offset that matches takes the window's dy, as in the cpu
 * backend's maxPoolPositions.
 *
 * @param dy gradient of the pooled output [N, Ho, Wo, C]
 * @param x the forward input [N, H, W, C]
 * @param y the forward output maxPool(x) [N, Ho, Wo, C]
 * @param g filterSize, strides, pad and rounding of the forward pooling
 * @returns dx [N, H, W, C]
 * @throws Error from tfjs when the shapes do not fit together
 * @example
 * const dx = maxPoolGrad(dy, x, tf.maxPool(x, 2, 2, "valid"), {filterSize: 2, strides: 2, pad: "valid"});
 */
export function maxPoolGrad(dy: tf.Tensor4D, x: tf.Tensor4D, y: tf.Tensor4D, g: PoolGeometry): tf.Tensor4D {
  return tf.tidy(() => {
    const info = tf.backend_util.computePool2DInfo(x.shape, g.filterSize, g.strides, 1, g.pad, g.dimRoundingMode);
    const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, outHeight: oh, outWidth: ow } = info;
    const [, h, w] = x.shape;
    const { top, left } = info.padInfo;
    // The rows and columns the windows cover, starting at −top / −left.
    const coverH = (oh - 1) * sh + fh;
    const coverW = (ow - 1) * sw + fw;
    const covered = padOrCrop(x, top, coverH - h - top, left, coverW - w - left, -Infinity);
    const grad = sh === fh && sw === fw ? tiledGrad(dy, covered, y, fh, fw) : overlappingGrad(dy, covered, y, sh, sw, fh, fw);
    // Back from the covered area to x's rows and columns.
    return padOrCrop(grad, -top, h + top - coverH, -left, w + left - coverW);
  });
}

/**
 * Routes each window's dy to the first of `candidates` (window offsets in
 * row-major order) equal to the window's maximum: the first match takes dy,
 * later matches see 0.
 */
function routeToFirstMax<T extends tf.Tensor>(candidates: T[], y: T, dy: T): T[] {
  const zero = tf.zerosLike(dy);
  let remaining = dy;
  return candidates.map((candidate, k) => {
    const hit = tf.equal(candidate, y);
    const taken = tf.where(hit, remaining, zero) as T;
    if (k < candidates.length - 1) remaining = tf.where(hit, zero, remaining) as T;
    return taken;
  });
}

/**
 * Windows that tile the input (stride = window size, e.g. 2×2/2). Two rank-4
 * transposes bring the window offset to the front, [fh·fw, rows, C], so the
 * candidates are contiguous blocks; two more transposes put dx back. wasm's
 * strided slices and its rank-5/6 slices, transposes and broadcasting
 * compares are 20–50× slower than these rank ≤ 4 copies (measured on a
 * [64, 24, 24, 20] input).
 */
function tiledGrad(dy: tf.Tensor4D, covered: tf.Tensor4D, y: tf.Tensor4D, fh: number, fw: number): tf.Tensor4D {
  const [n, oh, ow, c] = y.shape;
  const rows = n * oh * ow;
  const byRow = tf.transpose(tf.reshape(covered, [n * oh, fh, ow, fw * c]), [1, 0, 2, 3]);
  const byOffset = tf.transpose(tf.reshape(byRow, [fh, rows, fw, c]), [0, 2, 1, 3]);
  const candidates = tf.unstack(tf.reshape(byOffset, [fh * fw, rows * c]));
  const flat = (t: tf.Tensor4D) => tf.reshape(t, [rows * c]) as tf.Tensor1D;
  const taken = tf.stack(routeToFirstMax(candidates, flat(y), flat(dy)));
  const backByRow = tf.transpose(tf.reshape(taken, [fh, fw, rows, c]), [0, 2, 1, 3]);
  const back = tf.transpose(tf.reshape(backByRow, [fh, n * oh, ow, fw * c]), [1, 0, 2, 3]);
  return tf.reshape(back, [n, oh * fh, ow * fw, c]);
}

/** Overlapping or gapped windows (e.g. 3×3/2): strided slices, spread back and summed. */
function overlappingGrad(dy: tf.Tensor4D, covered: tf.Tensor4D, y: tf.Tensor4D, sh: number, sw: number, fh: number, fw: number): tf.Tensor4D {
  const [n, oh, ow, c] = y.shape;
  const [, coverH, coverW] = covered.shape;
  const offsets: [number, number][] = [];
  for (let i = 0; i < fh; i++) for (let j = 0; j < fw; j++) offsets.push([i, j]);
  const candidates = offsets.map(([i, j]) =>
    tf.stridedSlice(covered, [0, i, j, 0], [n, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, c], [1, sh, sw, 1]) as tf.Tensor4D,
  );
  const taken = routeToFirstMax(candidates, y, dy);
  const spreadH = (oh - 1) * sh + 1;
  const spreadW = (ow - 1) * sw + 1;
  return tf.addN(
    taken.map((t, k) => {
      const [i, j] = offsets[k];
      return tf.pad(spread(t, sh, sw), [[0, 0], [i, coverH - spreadH - i], [j, coverW - spreadW - j], [0, 0]]);
    }),
  );
}
