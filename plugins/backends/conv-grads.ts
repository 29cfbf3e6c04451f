/**
 * Convolution gradients written as forward convolutions.
 *
 * tfjs-backend-wasm 4.22 has fast forward Conv2D and DepthwiseConv2dNative
 * kernels (XNNPACK) but no kernels for the filter gradients or for the input
 * gradient of a depthwise convolution. Each gradient below is rewritten as
 * one forward convolution plus transposes and reshapes, so it runs at the
 * speed of the forward kernel on whatever backend is active.
 *
 * Notation (NHWC): x [N, H, W, C], dy [N, Ho, Wo, ·], filter [fh, fw, ·, ·],
 * stride s, dilation d, padding (pt, pl) on the top and left. The forward pass is
 *   y[n, i, j, ·] = Σ_{a, b} x[n, i·s + a·d − pt, j·s + b·d − pl, ·] · f[a, b, ·, ·]
 * (Dumoulin & Visin 2016, "A guide to convolution arithmetic", §2 and §4).
 */
import * as tf from "@tensorflow/tfjs";

/** Padding as the tfjs convolution ops take it. */
export type ConvPadding = "valid" | "same" | number | tf.backend_util.ExplicitPadding;

/** Geometry shared by the three gradients (the forward convolution's attributes). */
export interface ConvGeometry {
  strides: number | [number, number];
  pad: ConvPadding;
  /** Default 1. tfjs convolutions need strides or dilations to be 1. */
  dilations?: number | [number, number];
  dimRoundingMode?: "floor" | "round" | "ceil";
}

type Shape4 = [number, number, number, number];
type Pads = [[number, number], [number, number], [number, number], [number, number]];

/**
 * Crops rows/columns where a pad is negative, and returns the explicit
 * padding that is left for the convolution (all entries ≥ 0).
 */
function cropNegativePads(t: tf.Tensor4D, top: number, bottom: number, left: number, right: number): [tf.Tensor4D, Pads] {
  const cropped =
    top < 0 || bottom < 0 || left < 0 || right < 0
      ? tf.slice(t, [0, Math.max(0, -top), Math.max(0, -left), 0], [
          -1,
          t.shape[1] - Math.max(0, -top) - Math.max(0, -bottom),
          t.shape[2] - Math.max(0, -left) - Math.max(0, -right),
          -1,
        ])
      : t;
  const pads: Pads = [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]];
  return [cropped, pads];
}

/**
 * Inserts s − 1 zeros between rows and columns, [N, H, W, C] →
 * [N, (H−1)·sh+1, (W−1)·sw+1, C]: the input of a transposed convolution.
 *
 * @param t the tensor to spread
 * @param sh row stride, sw column stride (1 leaves that axis alone)
 * @returns the spread tensor (t itself when both strides are 1)
 * @example
 * spread(tf.ones([1, 2, 2, 1]), 2, 2); // 3×3 with ones at the corners
 */
export function spread(t: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return t;
  const [n, h, w, c] = t.shape;
  const holes = tf.pad(tf.reshape(t, [n, h, 1, w, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
  const dense = tf.reshape(holes, [n, h * sh, w * sw, c]) as tf.Tensor4D;
  return tf.slice(dense, [0, 0, 0, 0], [-1, (h - 1) * sh + 1, (w - 1) * sw + 1, -1]);
}

/**
 * The transposed convolution shared by the two input gradients: spread dy to
 * the stride, pad it by (effective filter size − 1 − forward pad) and
 * correlate with the filter rotated by 180° at dilation d (Dumoulin & Visin
 * 2016, §4.5–4.6). `correlate` is conv2d or depthwiseConv2d.
 */
function transposedConv(
  dy: tf.Tensor4D,
  inH: number,
  inW: number,
  fh: number,
  fw: number,
  geo: ReturnType<typeof geometry>,
  correlate: (x: tf.Tensor4D, pads: Pads) => tf.Tensor4D,
): tf.Tensor4D {
  const { sh, sw, dh, dw, pt, pl } = geo;
  const up = spread(dy, sh, sw);
  const top = (fh - 1) * dh - pt;
  const left = (fw - 1) * dw - pl;
  const bottom = inH + (fh - 1) * dh - up.shape[1] - top;
  const right = inW + (fw - 1) * dw - up.shape[2] - left;
  const [cropped, pads] = cropNegativePads(up, top, bottom, left, right);
  return correlate(cropped, pads);
}

/** The forward convolution's geometry, for an input of `inShape` (NHWC). */
function geometry(inShape: Shape4, filterShape: Shape4, g: ConvGeometry, depthwise: boolean, dataFormat: "NHWC" | "NCHW" = "NHWC") {
  const info = tf.backend_util.computeConv2DInfo(
    inShape,
    filterShape,
    g.strides,
    g.dilations ?? 1,
    g.pad,
    g.dimRoundingMode,
    depthwise,
    dataFormat === "NHWC" ? "channelsLast" : "channelsFirst",
  );
  return {
    sh: info.strideHeight,
    sw: info.strideWidth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
    outH: info.outHeight,
    outW: info.outWidth,
  };
}

/**
 * Gradient of conv2d with respect to its filter (the Conv2DBackpropFilter kernel).
 *
 * Swapping the roles of batch and channels turns it into one forward
 * convolution: with x' = x transposed to [C, H, W, N] and dy' = dy transposed
 * to [Ho, Wo, N, Co], conv2d(x', dy') with stride d and dilation s gives
 * dW transposed to [C, fh, fw, Co]. The input is padded (or cropped) so that
 * exactly fh × fw outputs come out.
 *
 * @param x the forward input, NHWC (or NCHW with `dataFormat`)
 * @param dy the gradient of the forward output, same layout as x
 * @param filterShape [fh, fw, inChannels, outChannels]
 * @param g strides, pad, dilations and rounding of the forward convolution
 * @param dataFormat layout of x and dy, default "NHWC"
 * @returns dW with shape `filterShape`
 * @throws Error from tfjs when the shapes do not fit together
 * @example
 * const dW = conv2dFilterGrad(x, dy, [3, 3, 1, 8], {strides: 2, pad: "same"});
 */
export function conv2dFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: Shape4,
  g: ConvGeometry,
  dataFormat: "NHWC" | "NCHW" = "NHWC",
): tf.Tensor4D {
  return tf.tidy(() => {
    const { sh, sw, dh, dw, pt, pl } = geometry(x.shape, filterShape, g, false, dataFormat);
    const xs = dataFormat === "NHWC" ? x : tf.transpose(x, [0, 2, 3, 1]);
    const dys = dataFormat === "NHWC" ? dy : tf.transpose(dy, [0, 2, 3, 1]);
    const [, inH, inW] = xs.shape;
    const [, outH, outW] = dys.shape;
    const [fh, fw] = filterShape;
    // Rows the filter reaches: (fh−1)·d + (Ho−1)·s + 1, starting at −pt.
    const bottom = (fh - 1) * dh + (outH - 1) * sh + 1 - inH - pt;
    const right = (fw - 1) * dw + (outW - 1) * sw + 1 - inW - pl;
    const [xt, pads] = cropNegativePads(tf.transpose(xs, [3, 1, 2, 0]), pt, bottom, pl, right);
    const dyt = tf.transpose(dys, [1, 2, 0, 3]);
    const out = tf.conv2d(xt, dyt, [dh, dw], pads, "NHWC", [sh, sw]);
    return tf.transpose(out, [1, 2, 0, 3]);
  });
}

/**
 * Gradient of conv2d with respect to its input (the Conv2DBackpropInput
 * kernel, also the forward pass of conv2dTranspose).
 *
 * The transposed convolution of dy with the filter rotated by 180° and its
 * in/out channels swapped, run as one forward conv2d. wasm has a
 * Conv2DBackpropInput of its own, but it is a plain loop, about 4× slower than
 * this on LeNet-5's second layer (142 ms against 35 ms per batch of 64).
 *
 * @param inputShape the forward input's shape, NHWC (or NCHW with `dataFormat`)
 * @param dy the gradient of the forward output, same layout
 * @param filter the forward filter [fh, fw, inChannels, outChannels]
 * @param g strides, pad, dilations and rounding of the forward convolution
 * @param dataFormat layout of x and dy, default "NHWC"
 * @returns dx with shape `inputShape`
 * @throws Error from tfjs when the shapes do not fit together
 * @example
 * const dx = conv2dInputGrad([8, 28, 28, 1], dy, filter, {strides: 1, pad: "valid"});
 */
export function conv2dInputGrad(
  inputShape: Shape4,
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  g: ConvGeometry,
  dataFormat: "NHWC" | "NCHW" = "NHWC",
): tf.Tensor4D {
  return tf.tidy(() => {
    const geo = geometry(inputShape, filter.shape, g, false, dataFormat);
    const dys = dataFormat === "NHWC" ? dy : tf.transpose(dy, [0, 2, 3, 1]);
    const [inH, inW] = dataFormat === "NHWC" ? inputShape.slice(1, 3) : inputShape.slice(2, 4);
    const [fh, fw] = filter.shape;
    const rotated = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
    const dx = transposedConv(dys, inH, inW, fh, fw, geo, (x, pads) => tf.conv2d(x, rotated, 1, pads, "NHWC", [geo.dh, geo.dw]));
    return dataFormat === "NHWC" ? dx : tf.transpose(dx, [0, 3, 1, 2]);
  });
}

/**
 * Gradient of depthwiseConv2d with respect to its filter
 * (the DepthwiseConv2dNativeBackpropFilter kernel).
 *
 * Same batch/channel swap as {@link conv2dFilterGrad}, but channels must stay
 * separate: x becomes one image [1, H, W, C·N] whose channels are (c, n)
 * pairs, dy becomes a depthwise filter [Ho, Wo, C·N, M], and a depthwise
 * convolution with stride d and dilation s yields [1, fh, fw, C·N·M]; summing
 * over n gives dW [fh, fw, C, M].
 *
 * @param x the forward input [N, H, W, C]
 * @param dy the gradient of the forward output [N, Ho, Wo, C·M]
 * @param filterShape [fh, fw, C, M] (M = channel multiplier)
 * @param g strides, pad, dilations and rounding of the forward convolution
 * @returns dW with shape `filterShape`
 * @throws Error from tfjs when the shapes do not fit together
 * @example
 * const dW = depthwiseFilterGrad(x, dy, [3, 3, 4, 1], {strides: 1, pad: "same"});
 */
export function depthwiseFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: Shape4, g: ConvGeometry): tf.Tensor4D {
  return tf.tidy(() => {
    const { sh, sw, dh, dw, pt, pl } = geometry(x.shape, filterShape, g, true);
    const [n, inH, inW, c] = x.shape;
    const [, outH, outW] = dy.shape;
    const [fh, fw, , m] = filterShape;
    const bottom = (fh - 1) * dh + (outH - 1) * sh + 1 - inH - pt;
    const right = (fw - 1) * dw + (outW - 1) * sw + 1 - inW - pl;
    const image = tf.reshape(tf.transpose(x, [1, 2, 3, 0]), [1, inH, inW, c * n]) as tf.Tensor4D;
    const [xt, pads] = cropNegativePads(image, pt, bottom, pl, right);
    const dy5 = tf.reshape(dy, [n, outH, outW, c, m]);
    const filter = tf.reshape(tf.transpose(dy5, [1, 2, 3, 0, 4]), [outH, outW, c * n, m]) as tf.Tensor4D;
    const out = tf.depthwiseConv2d(xt, filter, [dh, dw], pads, "NHWC", [sh, sw]);
    return tf.sum(tf.reshape(out, [fh, fw, c, n, m]), 3) as tf.Tensor4D;
  });
}

/**
 * Gradient of depthwiseConv2d with respect to its input
 * (the DepthwiseConv2dNativeBackpropInput kernel).
 *
 * The transposed convolution (see transposedConv) with a depthwise filter.
 * Each of the C·M output channels of the forward pass feeds back into its
 * own input channel, so the rotated filter is depthwise with multiplier 1 and
 * the M results per input channel are summed.
 *
 * @param inputShape the forward input's shape [N, H, W, C]
 * @param dy the gradient of the forward output [N, Ho, Wo, C·M]
 * @param filter the forward filter [fh, fw, C, M]
 * @param g strides, pad, dilations and rounding of the forward convolution
 * @returns dx with shape `inputShape`
 * @throws Error from tfjs when the shapes do not fit together
 * @example
 * const dx = depthwiseInputGrad([8, 28, 28, 4], dy, filter, {strides: 2, pad: "same"});
 */
export function depthwiseInputGrad(inputShape: Shape4, dy: tf.Tensor4D, filter: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  return tf.tidy(() => {
    const geo = geometry(inputShape, filter.shape, g, true);
    const [n, inH, inW, c] = inputShape;
    const [fh, fw, , m] = filter.shape;
    const rotated = tf.reshape(tf.reverse(filter, [0, 1]), [fh, fw, c * m, 1]) as tf.Tensor4D;
    const dx = transposedConv(dy, inH, inW, fh, fw, geo, (x, pads) => tf.depthwiseConv2d(x, rotated, 1, pads, "NHWC", [geo.dh, geo.dw]));
    return m === 1 ? dx : (tf.sum(tf.reshape(dx, [n, inH, inW, c, m]), 4) as tf.Tensor4D);
  });
}
