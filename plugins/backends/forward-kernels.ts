/**
 * Forward kernels of tfjs-backend-wasm 4.22 that are slow for the shapes
 * convolutional nets produce, replaced by single SIMD passes over the heap
 * (simd/heap-kernels.c). They serve inference and training alike; each one
 * handles only float32 NHWC-style layouts with one value per channel and
 * hands anything else to wasm's own kernel. wasm-gradients.ts registers them.
 *
 * Measured per call by bench/wasm-kernels.ts; on the MobileNetV2-style net
 * of the zoo (batch 32) the bias adds of its depthwise layers took 12% of a
 * prediction, and the global average pool twice as long as the classifier.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { batchNormHeap, heapBackend, heapOffset } from "./heap-kernels";
import { simdKernels } from "./simd-kernels";

export type KernelArgs = Parameters<tf.KernelFunc>[0];
type KernelResult = ReturnType<tf.KernelFunc>;
/** A kernel body; `native` is the wasm kernel it replaces, if any. */
export type Impl = (args: KernelArgs, native: tf.KernelConfig | undefined) => KernelResult;

/** wasm's own kernel, which a replacement hands the cases it does not cover. */
export function nativeOf(kernel: string, native: tf.KernelConfig | undefined): tf.KernelConfig {
  if (native === undefined) throw new SlimlabError("E_BACKEND", `${kernel} on wasm has no wasm kernel to delegate to; load @tensorflow/tfjs-backend-wasm first.`);
  return native;
}

/**
 * Sum and Mean over a run of axes that ends just before the last one
 * (float32): every axis but the last (a conv bias gradient, batch-norm
 * statistics), or the spatial axes of an NHWC tensor (global average
 * pooling). One pass of column sums on the heap per kept leading index.
 * wasm's kernels transpose the tensor to put the reduced axes last first, a
 * full copy. Any other reduction goes to wasm's own kernel.
 */
export function middleReduce(kernel: string, mean: boolean): Impl {
  return (args, maybeNative) => {
    const native = nativeOf(kernel, maybeNative);
    const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
    const x = args.inputs.x;
    const heap = heapBackend(args.backend);
    const simd = simdKernels(args.backend);
    if (heap === undefined || simd === undefined || x === undefined || x.dtype !== "float32" || x.shape.length < 2) return native.kernelFunc(args);
    const rank = x.shape.length;
    const axes = [...new Set(tf.util.parseAxisParam(axis, x.shape))].sort((a, b) => a - b);
    const first = axes[0];
    if (axes.length === 0 || axes[axes.length - 1] !== rank - 2 || axes.some((a, i) => a !== first + i)) return native.kernelFunc(args);
    const c = x.shape[rank - 1];
    const outer = tf.util.sizeFromShape(x.shape.slice(0, first));
    const rows = tf.util.sizeFromShape(x.shape.slice(first, rank - 1));
    if (rows === 0 || c === 0 || outer === 0) return native.kernelFunc(args);
    const kept = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const out = heap.makeOutput(kept, "float32");
    const [from, to] = [heapOffset(heap, x), heapOffset(heap, out)];
    for (let i = 0; i < outer; i++) simd.column_sums(from + 4 * i * rows * c, to + 4 * i * c, rows, c, mean ? 1 / rows : 1);
    return out;
  };
}

/**
 * Batch normalisation (float32, one value per channel of every parameter):
 * one SIMD pass (heap-kernels.ts). wasm's kernel takes a square root and a
 * division per element, about 25× the time of an elementwise op. Anything
 * else goes to wasm's own kernel.
 */
export const fusedBatchNorm: Impl = (args, native) => {
  const wasm = nativeOf(tf.FusedBatchNorm, native);
  const { x, mean, variance, offset, scale } = args.inputs as Partial<Record<string, tf.TensorInfo>>;
  const heap = heapBackend(args.backend);
  const eps = (args.attrs as unknown as tf.FusedBatchNormAttrs).varianceEpsilon;
  const out = heap && x && mean && variance ? batchNormHeap(heap, x, { mean, variance, offset, scale }, eps) : undefined;
  return out ?? wasm.kernelFunc(args);
};

/** Whether `small` holds one value per channel of `full` (shape [c] or [1, …, 1, c], rank ≤ full's). */
function perChannel(small: tf.TensorInfo, full: tf.TensorInfo): boolean {
  const c = full.shape[full.shape.length - 1];
  const s = small.shape;
  return full.shape.length >= 1 && s.length >= 1 && s.length <= full.shape.length && s[s.length - 1] === c && s.slice(0, -1).every((d) => d === 1);
}

/**
 * Add of a tensor and one value per channel (float32; a layer's bias: every
 * Conv2D, DepthwiseConv2D and Dense layer that tfjs-layers does not fuse
 * adds its bias this way): one SIMD pass. wasm's Add takes its generic
 * broadcasting path for it, about as slow for 4 channels as for 8. Any
 * other Add goes to wasm's own kernel.
 */
export const channelAdd: Impl = (args, native) => {
  const wasm = nativeOf(tf.Add, native);
  const { a, b } = args.inputs;
  const heap = heapBackend(args.backend);
  const simd = simdKernels(args.backend);
  if (heap === undefined || simd === undefined || a === undefined || b === undefined || a.dtype !== "float32" || b.dtype !== "float32") return wasm.kernelFunc(args);
  const [full, bias] = perChannel(b, a) ? [a, b] : perChannel(a, b) ? [b, a] : [undefined, undefined];
  if (full === undefined || bias === undefined || full.shape.length < 2) return wasm.kernelFunc(args);
  const c = full.shape[full.shape.length - 1];
  const rows = tf.util.sizeFromShape(full.shape) / c;
  if (rows === 0 || c === 0) return wasm.kernelFunc(args);
  const out = heap.makeOutput(full.shape, "float32");
  simd.channel_add(heapOffset(heap, full), heapOffset(heap, bias), heapOffset(heap, out), rows, c);
  return out;
};
