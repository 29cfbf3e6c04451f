/**
 * Training kernels for the wasm backend that read and write its heap
 * directly: im2col / col2im around one big matrix product for the conv2d
 * gradients, a single pass for the max-pooling gradient, and row copies for
 * gathering a batch.
 *
 * bench/profile.ts showed where a LeNet-5 step went with the compositions
 * of conv-grads.ts and pool-grads.ts: the input gradient ran a forward
 * convolution over a zero-padded dy (2.25× the multiply-adds of the
 * gradient itself on LeNet-5's second layer), the filter gradient a
 * convolution with the batch as channels (a shape XNNPACK is not built for),
 * and the max-pooling gradient about 20 kernels of slices, compares and
 * selects, a quarter of the whole step. Here the multiply-adds go to wasm's
 * BatchMatMul (XNNPACK's SIMD GEMM) with exactly the gradient's work, and
 * the index juggling around it is plain JavaScript over the heap's typed
 * arrays, which V8 compiles to tight loops.
 *
 * A view of the heap is taken only after the last allocation before it is
 * used: an allocation may grow wasm memory, which detaches older views.
 */
import * as tf from "@tensorflow/tfjs";
import { simdKernels } from "./simd-kernels";

/** What these kernels use of tfjs-backend-wasm's BackendWasm. */
export interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** The backend of a kernel call, if it exposes the wasm heap. */
export function heapBackend(backend: unknown): HeapBackend | undefined {
  const b = backend as Partial<HeapBackend> | undefined;
  return typeof b?.makeOutput === "function" && typeof b.typedArrayFromHeap === "function" ? (b as HeapBackend) : undefined;
}

/** Byte offset of a tensor's data in the wasm heap. */
export function heapOffset(backend: HeapBackend, t: tf.TensorInfo): number {
  return backend.typedArrayFromHeap(t).byteOffset;
}

/** The window's geometry in the order the SIMD kernels take it. */
function args(g: Window): [number, number, number, number, number, number, number, number, number, number, number, number, number, number] {
  return [g.n, g.h, g.w, g.c, g.outH, g.outW, g.fh, g.fw, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl];
}

/** A new tensor of `shape` on the heap, filled by `fill` (which gets the view and must write every element). */
function fresh(backend: HeapBackend, shape: number[], dtype: tf.DataType, fill: (out: Float32Array | Int32Array | Uint8Array) => void): tf.Tensor {
  const info = backend.makeOutput(shape, dtype);
  fill(backend.typedArrayFromHeap(info));
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** Geometry of a 2-D convolution or pooling window over an NHWC input. */
export interface Window {
  n: number;
  h: number;
  w: number;
  c: number;
  outH: number;
  outW: number;
  fh: number;
  fw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  /** Padding on the top and on the left. */
  pt: number;
  pl: number;
}

/** The window geometry tfjs computes for a conv2d of `x` with a filter of `filterShape`. */
export function convWindow(xShape: number[], filterShape: number[], info: tf.backend_util.Conv2DInfo): Window {
  const [n, h, w, c] = xShape;
  const [fh, fw] = filterShape;
  return {
    n, h, w, c, fh, fw,
    outH: info.outHeight, outW: info.outWidth,
    sh: info.strideHeight, sw: info.strideWidth,
    dh: info.dilationHeight, dw: info.dilationWidth,
    pt: info.padInfo.top, pl: info.padInfo.left,
  };
}

/**
 * im2col, transposed: column m = (n, i, j) of the result holds the fh·fw·C
 * input values output pixel (i, j) of image n sees, in filter order
 * (a, b, c), zeros where the window hangs over the padding. [fh·fw·C, N·Ho·Wo].
 * Transposed because wasm's BatchMatMul (XNNPACK) repacks its right operand
 * on every call: in colsᵀ · dy the right operand is the small dy. Reads x as
 * xt = [C, N, H, W] (one wasm transpose), so that with stride 1 each output
 * row is a contiguous copy in both arrays.
 */
function im2colT(backend: HeapBackend, xt: tf.TensorInfo, g: Window): tf.Tensor2D {
  const simd = simdKernels(backend);
  if (simd !== undefined) return fresh(backend, [g.fh * g.fw * g.c, g.n * g.outH * g.outW], "float32", (cols) => simd.im2col_t(heapOffset(backend, xt), cols.byteOffset, ...args(g))) as tf.Tensor2D;
  return fresh(backend, [g.fh * g.fw * g.c, g.n * g.outH * g.outW], "float32", (cols) => {
    // Geometry as locals of the loop's own function: V8 keeps them in registers.
    const { n, h, w, c, outH, outW, fh, fw, sh, sw, dh, dw, pt, pl } = g;
    const src = backend.typedArrayFromHeap(xt);
    let to = 0;
    for (let a = 0; a < fh; a++) {
      for (let b = 0; b < fw; b++) {
        // Output columns j in [j0, j1) read inside the image; the rest are padding.
        const off = b * dw - pl;
        const j0 = Math.min(outW, Math.max(0, Math.ceil(-off / sw)));
        const j1 = Math.max(j0, Math.min(outW, Math.floor((w - 1 - off) / sw) + 1));
        for (let ch = 0; ch < c; ch++) {
          for (let img = 0; img < n; img++) {
            const plane = (ch * n + img) * h;
            for (let i = 0; i < outH; i++, to += outW) {
              const ih = i * sh + a * dh - pt;
              if (ih < 0 || ih >= h) {
                cols.fill(0, to, to + outW);
                continue;
              }
              const from = (plane + ih) * w + off;
              for (let j = 0; j < j0; j++) cols[to + j] = 0;
              if (sw === 1) for (let j = j0; j < j1; j++) cols[to + j] = src[from + j];
              else for (let j = j0; j < j1; j++) cols[to + j] = src[from + j * sw];
              for (let j = j1; j < outW; j++) cols[to + j] = 0;
            }
          }
        }
      }
    }
  }) as tf.Tensor2D;
}

/**
 * col2im: sums each entry of cols [N·Ho·Wo, fh·fw·C] back into the input
 * pixel it came from. Where a filter row lies inside the image without
 * dilation its fw·C entries are one contiguous run in both arrays.
 */
function col2im(backend: HeapBackend, cols: tf.Tensor2D, g: Window): tf.Tensor4D {
  const simd = simdKernels(backend);
  if (simd !== undefined) return fresh(backend, [g.n, g.h, g.w, g.c], "float32", (dx) => simd.col2im(heapOffset(backend, cols), dx.byteOffset, ...args(g))) as tf.Tensor4D;
  return fresh(backend, [g.n, g.h, g.w, g.c], "float32", (dx) => {
    const { n, h, w, c, outH, outW, fh, fw, sh, sw, dh, dw, pt, pl } = g;
    const run = fw * c;
    dx.fill(0);
    const src = backend.typedArrayFromHeap(cols);
    let from = 0;
    for (let img = 0; img < n; img++) {
      for (let i = 0; i < outH; i++) {
        for (let j = 0; j < outW; j++) {
          const iw0 = j * sw - pl;
          const whole = dw === 1 && iw0 >= 0 && iw0 + fw <= w;
          for (let a = 0; a < fh; a++, from += run) {
            const ih = i * sh + a * dh - pt;
            if (ih < 0 || ih >= h) continue;
            const line = (img * h + ih) * w;
            if (whole) {
              const to = (line + iw0) * c;
              for (let e = 0; e < run; e++) dx[to + e] += src[from + e];
              continue;
            }
            for (let b = 0; b < fw; b++) {
              const iw = iw0 + b * dw;
              if (iw < 0 || iw >= w) continue;
              const to = (line + iw) * c;
              for (let ch = 0; ch < c; ch++) dx[to + ch] += src[from + b * c + ch];
            }
          }
        }
      }
    }
  }) as tf.Tensor4D;
}

/**
 * dW = im2col(x)ᵀ · dy, one matrix product without transpose flags (slow
 * on wasm). NHWC, float32.
 *
 * @param backend the wasm backend of the kernel call
 * @param x the forward input [N, H, W, C]
 * @param dy the gradient of the output [N, Ho, Wo, Co]
 * @param filterShape [fh, fw, C, Co]
 * @param g the forward convolution's window
 * @returns dW with shape filterShape (call inside tf.tidy)
 */
export function conv2dFilterGradGemm(backend: HeapBackend, x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: [number, number, number, number], g: Window): tf.Tensor4D {
  const colsT = im2colT(backend, tf.transpose(x, [3, 0, 1, 2]), g);
  return tf.reshape(tf.matMul(colsT, tf.reshape(dy, [-1, filterShape[3]])), filterShape) as tf.Tensor4D;
}

/**
 * dx = col2im(dy · Wᵀ): one matrix product with exactly the gradient's
 * multiply-adds, then each column entry summed back into its input pixel.
 * NHWC, float32.
 *
 * @param backend the wasm backend of the kernel call
 * @param dy the gradient of the output [N, Ho, Wo, Co]
 * @param filter [fh, fw, C, Co]
 * @param g the forward convolution's window (input shape included)
 * @returns dx [N, H, W, C] (call inside tf.tidy)
 */
export function conv2dInputGradGemm(backend: HeapBackend, dy: tf.Tensor4D, filter: tf.Tensor4D, g: Window): tf.Tensor4D {
  const [fh, fw, c, co] = filter.shape;
  const wT = tf.transpose(tf.reshape(filter, [fh * fw * c, co]));
  const cols = tf.matMul(tf.reshape(dy, [-1, co]), wT) as tf.Tensor2D;
  return col2im(backend, cols, g);
}

/**
 * Max-pooling gradient in one pass: each window's dy goes to its first
 * maximum in row-major order (strictly greater than everything before it,
 * starting from −∞, so padding never wins), as the cpu backend's
 * maxPoolPositions does. A window of only NaN or −∞ passes nothing back,
 * as on cpu. NHWC, float32; `g` has no dilation (dh = dw = 1).
 *
 * @param backend the wasm backend of the kernel call
 * @param dy [N, Ho, Wo, C]
 * @param x the forward input [N, H, W, C]
 * @param g the pooling window
 * @returns dx [N, H, W, C]
 */
export function maxPoolGradHeap(backend: HeapBackend, dy: tf.TensorInfo, x: tf.TensorInfo, g: Window): tf.Tensor4D {
  const simd = simdKernels(backend);
  if (simd !== undefined) {
    const { n, h, w, c, outH, outW, fh, fw, sh, sw, pt, pl } = g;
    return fresh(backend, [n, h, w, c], "float32", (dx) => simd.max_pool_grad(heapOffset(backend, x), heapOffset(backend, dy), dx.byteOffset, n, h, w, c, outH, outW, fh, fw, sh, sw, pt, pl)) as tf.Tensor4D;
  }
  return fresh(backend, [g.n, g.h, g.w, g.c], "float32", (dx) => {
    const { n, h, w, c, outH, outW, fh, fw, sh, sw, pt, pl } = g;
    // Offsets of the window's pixels inside the image, in row-major order.
    const at = new Int32Array(fh * fw);
    dx.fill(0);
    const xs = backend.typedArrayFromHeap(x);
    const dys = backend.typedArrayFromHeap(dy);
    let o = 0;
    for (let img = 0; img < n; img++) {
      for (let i = 0; i < outH; i++) {
        for (let j = 0; j < outW; j++, o += c) {
          let size = 0;
          for (let a = 0; a < fh; a++) {
            const ih = i * sh + a - pt;
            if (ih < 0 || ih >= h) continue;
            for (let b = 0; b < fw; b++) {
              const iw = j * sw + b - pl;
              if (iw >= 0 && iw < w) at[size++] = ((img * h + ih) * w + iw) * c;
            }
          }
          for (let ch = 0; ch < c; ch++) {
            let best = -Infinity;
            let where = -1;
            for (let k = 0; k < size; k++) {
              const v = xs[at[k] + ch];
              if (v > best) {
                best = v;
                where = at[k] + ch;
              }
            }
            if (where >= 0) dx[where] += dys[o + ch];
          }
        }
      }
    }
  }) as tf.Tensor4D;
}

/**
 * The filter gradient of a depthwise convolution with channel multiplier 1,
 * in one SIMD pass (simd/heap-kernels.c); undefined when the SIMD module is
 * not available (the caller then uses conv-grads.ts's composition).
 *
 * @param backend the wasm backend of the kernel call
 * @param x the forward input [N, H, W, C], float32
 * @param dy [N, Ho, Wo, C]
 * @param g the convolution window
 * @returns dW [fh, fw, C, 1], or undefined
 */
export function depthwiseFilterGradHeap(backend: HeapBackend, x: tf.TensorInfo, dy: tf.TensorInfo, g: Window): tf.Tensor4D | undefined {
  const simd = simdKernels(backend);
  if (simd === undefined) return undefined;
  return fresh(backend, [g.fh, g.fw, g.c, 1], "float32", (dw) => simd.depthwise_filter_grad(heapOffset(backend, x), heapOffset(backend, dy), dw.byteOffset, ...args(g))) as tf.Tensor4D;
}

/**
 * The input gradient of a depthwise convolution with channel multiplier 1,
 * in one SIMD pass; undefined without the SIMD module.
 *
 * @param backend the wasm backend of the kernel call
 * @param dy [N, Ho, Wo, C], float32
 * @param filter [fh, fw, C, 1]
 * @param g the convolution window
 * @returns dx [N, H, W, C], or undefined
 */
export function depthwiseInputGradHeap(backend: HeapBackend, dy: tf.TensorInfo, filter: tf.TensorInfo, g: Window): tf.Tensor4D | undefined {
  const simd = simdKernels(backend);
  if (simd === undefined) return undefined;
  return fresh(backend, [g.n, g.h, g.w, g.c], "float32", (dx) => simd.depthwise_input_grad(heapOffset(backend, dy), heapOffset(backend, filter), dx.byteOffset, ...args(g))) as tf.Tensor4D;
}

/**
 * tf.gather along axis 0 as row copies (wasm's Gather walks element by
 * element through generic strides). Indices must already be checked to lie
 * in [0, rows).
 *
 * @param backend the wasm backend of the kernel call
 * @param x any dtype but string, rank ≥ 1
 * @param indices int32, any shape
 * @returns x's rows at `indices`, shape [...indices.shape, ...x.shape.slice(1)]
 */
export function gatherRows(backend: HeapBackend, x: tf.TensorInfo, indices: tf.TensorInfo): tf.Tensor {
  const row = x.shape.slice(1).reduce((p, d) => p * d, 1);
  return fresh(backend, [...indices.shape, ...x.shape.slice(1)], x.dtype, (out) => {
    const src = backend.typedArrayFromHeap(x);
    const idx = backend.typedArrayFromHeap(indices);
    for (let r = 0; r < idx.length; r++) out.set(src.subarray(idx[r] * row, idx[r] * row + row), r * row);
  });
}

/**
 * Batch normalisation over the last axis on the heap, in one SIMD pass:
 * (x − mean) · scale/√(variance + ε) + offset, the per-channel factor
 * computed once per channel instead of once per element as wasm's
 * FusedBatchNorm does. Every parameter must hold one value per channel
 * (offset and scale may be absent: 0 and 1).
 *
 * @returns the normalised tensor, or undefined when the SIMD module is not
 *   available or a parameter is not [c] (the caller falls back to wasm's kernel)
 */
export function batchNormHeap(
  backend: HeapBackend,
  x: tf.TensorInfo,
  params: { mean: tf.TensorInfo; variance: tf.TensorInfo; offset?: tf.TensorInfo; scale?: tf.TensorInfo },
  epsilon: number
): tf.TensorInfo | undefined {
  const simd = simdKernels(backend);
  const c = x.shape[x.shape.length - 1];
  const given = [params.mean, params.variance, params.offset, params.scale].filter((t): t is tf.TensorInfo => t !== undefined);
  if (simd === undefined || x.dtype !== "float32" || x.shape.length === 0 || c === 0) return undefined;
  if (given.some((t) => t.dtype !== "float32" || tf.util.sizeFromShape(t.shape) !== c)) return undefined;
  const out = backend.makeOutput(x.shape, "float32");
  const packed = fresh(backend, [3 * c], "float32", (p) => {
    // Views of the parameters after the last allocation (it may have grown the heap).
    const [mean, variance] = [backend.typedArrayFromHeap(params.mean), backend.typedArrayFromHeap(params.variance)];
    const offset = params.offset && backend.typedArrayFromHeap(params.offset);
    const scale = params.scale && backend.typedArrayFromHeap(params.scale);
    for (let ch = 0; ch < c; ch++) {
      p[ch] = mean[ch];
      p[c + ch] = (scale ? scale[ch] : 1) / Math.sqrt(variance[ch] + epsilon);
      p[2 * c + ch] = offset ? offset[ch] : 0;
    }
  });
  try {
    simd.batch_norm(heapOffset(backend, x), heapOffset(backend, packed), heapOffset(backend, out), tf.util.sizeFromShape(x.shape) / c, c);
  } finally {
    packed.dispose();
  }
  return out;
}
