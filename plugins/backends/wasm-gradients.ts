/**
 * The training kernels tfjs-backend-wasm 4.22 lacks or gets wrong, registered
 * for "wasm".
 *
 * Out of the box, model.fit on the wasm backend fails for any model with a
 * convolution ("Kernel 'Conv2DBackpropFilter' not registered for backend
 * 'wasm'") or an Embedding layer (UnsortedSegmentSum). Training conv + maxPool
 * + dense, strided and 'same' convs, depthwise, separable, batchNorm + dropout
 * + avgPool, conv1d, conv2dTranspose, upSampling, embedding and LSTM models on
 * wasm and comparing every weight gradient with the cpu backend shows four
 * missing kernels and one wrong one: MaxPoolGrad, which misroutes the gradient
 * of windows whose maximum is negative. AvgPoolGrad, Conv2DBackpropInput,
 * FusedBatchNorm and the elementwise gradients agree with cpu, but two are
 * slow: Conv2DBackpropInput (a plain loop) and BatchMatMul with a transpose
 * flag; both are replaced by faster compositions. Training LeNet-5 on a batch
 * of 64 goes from "Kernel 'Conv2DBackpropFilter' not registered" to about
 * 110–130 ms per batch (about 240–260 ms with only the missing and wrong
 * kernels added; the cpu backend takes about 30 s).
 *
 * Each kernel here is composed from kernels wasm does have (see conv-grads.ts,
 * pool-grads.ts and segment-sum.ts), so it runs at wasm speed instead of
 * falling back to the JavaScript cpu backend. Nothing is registered on import: the kernel
 * calls {@link registerWasmGradients} once at start (house rule 3).
 */
import * as tf from "@tensorflow/tfjs";
import { conv2dFilterGrad, conv2dInputGrad, depthwiseFilterGrad, depthwiseInputGrad } from "./conv-grads";
import { channelAdd, fusedBatchNorm, Impl, KernelArgs, middleReduce, nativeOf } from "./forward-kernels";
import { conv2dFilterGradGemm, conv2dInputGradGemm, convWindow, depthwiseFilterGradHeap, depthwiseInputGradHeap, gatherRows, heapBackend, maxPoolGradHeap } from "./heap-kernels";
import { maxPoolGrad } from "./pool-grads";
import { registerFastGradients } from "./fast-grads";
import { segmentSumByScatter } from "./segment-sum";
import { SlimlabError } from "../core/errors";

const BACKEND = "wasm";


/**
 * Input `name` of a kernel call as a Tensor. The engine passes Tensors when
 * an op calls the kernel; a bare TensorInfo (a backend calling it directly)
 * is wrapped with an extra reference, so disposing the wrapper at the end of
 * the tidy leaves the caller's data alone.
 */
function input<T extends tf.Tensor>(args: KernelArgs, name: string, kernel: string): T {
  const info = args.inputs[name];
  if (info === undefined) {
    const received = Object.keys(args.inputs).join(", ");
    throw new SlimlabError("E_ARG", `${kernel} on wasm needs input "${name}"; received inputs [${received}]. Call it through its tfjs op.`);
  }
  if (info instanceof tf.Tensor) return info as T;
  tf.engine().backend.incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info) as T;
}

/*
 * The engine runs a kernel with taping switched off and accepts a Tensor as
 * its output (tfjs-core engine.runKernelFunc), so a kernel may be written
 * with ops; tf.tidy frees everything but the result.
 */

/**
 * The conv2d gradients go through im2col / col2im and one matrix product
 * (heap-kernels.ts) where the wasm heap is reachable and the data is NHWC
 * float32; otherwise (NCHW, another backend calling in) through the
 * forward-convolution compositions of conv-grads.ts.
 */
type ConvAttrs = { strides: number | [number, number]; pad: tf.Conv2DBackpropFilterAttrs["pad"]; dataFormat?: "NHWC" | "NCHW"; dimRoundingMode?: "floor" | "round" | "ceil"; dilations?: number | [number, number] };

function nhwcConvInfo(a: ConvAttrs, xShape: number[], filterShape: number[], dtype: tf.DataType, depthwise = false) {
  if ((a.dataFormat ?? "NHWC") !== "NHWC" || dtype !== "float32") return undefined;
  const x4 = xShape as [number, number, number, number];
  const f4 = filterShape as [number, number, number, number];
  return convWindow(xShape, filterShape, tf.backend_util.computeConv2DInfo(x4, f4, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, depthwise));
}

/** The window of a depthwise convolution that the SIMD kernels take: NHWC float32, channel multiplier 1. */
function depthwiseWindow(args: KernelArgs, a: ConvAttrs, xShape: number[], filterShape: number[], dtype: tf.DataType) {
  const heap = heapBackend(args.backend);
  if (heap === undefined || filterShape[3] !== 1) return undefined;
  const win = nhwcConvInfo(a, xShape, filterShape, dtype, true);
  return win === undefined ? undefined : { heap, win };
}

/** Below this many input channels the filter gradient goes through im2col + GEMM. */
const GEMM_FILTER_GRAD_MAX_CHANNELS = 8;

const conv2dBackpropFilter: Impl = (args) =>
  tf.tidy(() => {
    const a = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs & ConvAttrs;
    const x = input<tf.Tensor4D>(args, "x", tf.Conv2DBackpropFilter);
    const dy = input<tf.Tensor4D>(args, "dy", tf.Conv2DBackpropFilter);
    const heap = heapBackend(args.backend);
    const win = nhwcConvInfo(a, x.shape, a.filterShape, x.dtype);
    // The composition runs a convolution with the input channels as its batch: with one
    // channel (a first layer on grey images) that is a poor shape for XNNPACK and the GEMM
    // is 2-4× faster; with 6 or 20 channels (LeNet-5's second layers) both take about the
    // same time, the composition up to 1.1× less (interleaved medians, batch 64).
    if (heap !== undefined && win !== undefined && win.c < GEMM_FILTER_GRAD_MAX_CHANNELS) return conv2dFilterGradGemm(heap, x, dy, a.filterShape, win);
    return conv2dFilterGrad(x, dy, a.filterShape, a, a.dataFormat);
  });

const conv2dBackpropInput: Impl = (args) =>
  tf.tidy(() => {
    const a = args.attrs as unknown as tf.Conv2DBackpropInputAttrs & ConvAttrs;
    const dy = input<tf.Tensor4D>(args, "dy", tf.Conv2DBackpropInput);
    const filter = input<tf.Tensor4D>(args, "filter", tf.Conv2DBackpropInput);
    const heap = heapBackend(args.backend);
    const win = nhwcConvInfo(a, a.inputShape, filter.shape, dy.dtype);
    if (heap !== undefined && win !== undefined) return conv2dInputGradGemm(heap, dy, filter, win);
    return conv2dInputGrad(a.inputShape, dy, filter, a, a.dataFormat);
  });

const depthwiseBackpropFilter: Impl = (args) =>
  tf.tidy(() => {
    const a = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
    const x = input<tf.Tensor4D>(args, "x", tf.DepthwiseConv2dNativeBackpropFilter);
    const dy = input<tf.Tensor4D>(args, "dy", tf.DepthwiseConv2dNativeBackpropFilter);
    const on = depthwiseWindow(args, a, x.shape, a.filterShape, x.dtype);
    return (on && depthwiseFilterGradHeap(on.heap, x, dy, on.win)) ?? depthwiseFilterGrad(x, dy, a.filterShape, a);
  });

const depthwiseBackpropInput: Impl = (args) =>
  tf.tidy(() => {
    const a = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
    const dy = input<tf.Tensor4D>(args, "dy", tf.DepthwiseConv2dNativeBackpropInput);
    const filter = input<tf.Tensor4D>(args, "filter", tf.DepthwiseConv2dNativeBackpropInput);
    const on = depthwiseWindow(args, a, a.inputShape, filter.shape, dy.dtype);
    return (on && depthwiseInputGradHeap(on.heap, dy, filter, on.win)) ?? depthwiseInputGrad(a.inputShape, dy, filter, a);
  });

const unsortedSegmentSum: Impl = (args) =>
  tf.tidy(() => {
    const a = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;
    const x = input(args, "x", tf.UnsortedSegmentSum);
    return segmentSumByScatter(x, input(args, "segmentIds", tf.UnsortedSegmentSum), a.numSegments);
  });

/** One pass over the heap (heap-kernels.ts) when it is reachable; the slice-and-compare composition otherwise. */
const maxPoolGradKernel: Impl = (args) =>
  tf.tidy(() => {
    const a = args.attrs as unknown as tf.MaxPoolGradAttrs;
    const dy = input<tf.Tensor4D>(args, "dy", tf.MaxPoolGrad);
    const x = input<tf.Tensor4D>(args, "input", tf.MaxPoolGrad);
    const heap = heapBackend(args.backend);
    if (heap !== undefined && x.dtype === "float32") {
      const info = tf.backend_util.computePool2DInfo(x.shape, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
      return maxPoolGradHeap(heap, dy, x, convWindow(x.shape, [info.filterHeight, info.filterWidth], info));
    }
    return maxPoolGrad(dy, x, input<tf.Tensor4D>(args, "output", tf.MaxPoolGrad), a);
  });

/**
 * wasm's GatherV2 copies element by element through generic strides: 1.4 ms
 * for a batch of 64 MNIST rows, a tenth of a LeNet-300-100 training step
 * (bench/profile.ts). Gathering whole rows (axis 0, no batch dims, indices in
 * range) is done here as row copies; anything else, including the error for
 * an index out of range, goes to wasm's kernel.
 */
const gatherV2: Impl = (args, native) => {
  const wasm = nativeOf(tf.GatherV2, native);
  const a = args.attrs as unknown as tf.GatherV2Attrs;
  const { x, indices } = args.inputs;
  const heap = heapBackend(args.backend);
  if (heap === undefined || x === undefined || indices === undefined || x.dtype === "string" || indices.dtype !== "int32" || x.shape.length === 0) return wasm.kernelFunc(args);
  if (tf.util.parseAxisParam(a.axis, x.shape)[0] !== 0 || (a.batchDims ?? 0) !== 0) return wasm.kernelFunc(args);
  const rows = x.shape[0];
  const idx = heap.typedArrayFromHeap(indices);
  for (let i = 0; i < idx.length; i++) if (!(idx[i] >= 0 && idx[i] < rows)) return wasm.kernelFunc(args);
  return gatherRows(heap, x, indices);
};

/**
 * wasm's BatchMatMul is 10–15× slower with transposeA or transposeB set than
 * without (measured: [64, 800]ᵀ·[64, 500] 46 ms against 4 ms with the
 * transpose done first), and every dense layer's gradient sets one of them.
 * Transpose explicitly, then call wasm's own kernel with both flags off.
 */
const batchMatMul: Impl = (args, maybeNative) => {
  // Always there through registerWasmGradients, which only replaces a kernel that exists.
  const native = nativeOf(tf.BatchMatMul, maybeNative);
  const attrs = args.attrs as unknown as tf.BatchMatMulAttrs;
  if (!attrs.transposeA && !attrs.transposeB) return native.kernelFunc(args);
  // Raw TensorInfos: the side that is not transposed goes to wasm as it came.
  const lhs = args.inputs.a;
  const rhs = args.inputs.b;
  if (lhs === undefined || rhs === undefined) return native.kernelFunc(args);
  const a = attrs.transposeA ? transposeLastTwo(lhs) : undefined;
  const b = attrs.transposeB ? transposeLastTwo(rhs) : undefined;
  try {
    const inputs = { a: a ?? lhs, b: b ?? rhs };
    return native.kernelFunc({ ...args, inputs, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
  } finally {
    a?.dispose();
    b?.dispose();
  }
};

function transposeLastTwo(t: tf.TensorInfo): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  // runKernel reads only dataId, shape and dtype, so a bare TensorInfo will do.
  return tf.engine().runKernel(tf.Transpose, { x: t as tf.Tensor }, { perm }) as tf.Tensor;
}

/**
 * Why a kernel is here. "missing": wasm has none; added only where it is
 * still missing, so a newer tfjs-backend-wasm that ships one keeps its own.
 * "wrong": wasm's kernel gives wrong numbers; replaced. "slow": wasm's kernel
 * is several times slower than the composition; replaced.
 */
type Reason = "missing" | "wrong" | "slow";

const KERNELS: ReadonlyArray<{ name: string; impl: Impl; reason: Reason }> = [
  { name: tf.Conv2DBackpropFilter, impl: conv2dBackpropFilter, reason: "missing" },
  { name: tf.DepthwiseConv2dNativeBackpropFilter, impl: depthwiseBackpropFilter, reason: "missing" },
  { name: tf.DepthwiseConv2dNativeBackpropInput, impl: depthwiseBackpropInput, reason: "missing" },
  { name: tf.UnsortedSegmentSum, impl: unsortedSegmentSum, reason: "missing" },
  { name: tf.MaxPoolGrad, impl: maxPoolGradKernel, reason: "wrong" },
  { name: tf.Conv2DBackpropInput, impl: conv2dBackpropInput, reason: "slow" },
  { name: tf.BatchMatMul, impl: batchMatMul, reason: "slow" },
  { name: tf.GatherV2, impl: gatherV2, reason: "slow" },
  { name: tf.Sum, impl: middleReduce(tf.Sum, false), reason: "slow" },
  { name: tf.Mean, impl: middleReduce(tf.Mean, true), reason: "slow" },
  { name: tf.FusedBatchNorm, impl: fusedBatchNorm, reason: "slow" },
  { name: tf.Add, impl: channelAdd, reason: "slow" },
];

/*
 * A registered kernel is recognised as slimlab's by a tag on its function,
 * which also keeps the wasm kernel it replaced so that unregistering can put
 * it back. The state lives in tfjs's kernel registry, not in this module.
 */
const TAG = Symbol.for("slimlab.wasmGradient");
type Tagged = tf.KernelFunc & { [TAG]?: { replaced?: tf.KernelConfig } };

function isOurs(config: tf.KernelConfig | undefined): boolean {
  return config !== undefined && TAG in config.kernelFunc;
}

/**
 * Registers, for the "wasm" backend, the gradient kernels that
 * tfjs-backend-wasm 4.22 lacks (Conv2DBackpropFilter,
 * DepthwiseConv2dNativeBackpropFilter, DepthwiseConv2dNativeBackpropInput,
 * UnsortedSegmentSum), replaces its MaxPoolGrad, which misroutes the gradient
 * of windows whose maximum is negative, and replaces slow kernels
 * (Conv2DBackpropInput, BatchMatMul with a transpose flag, GatherV2 along
 * axis 0, Sum and Mean over every axis but the last or over the spatial
 * axes, and the forward kernels of forward-kernels.ts: FusedBatchNorm and
 * the Add of one value per channel). Call it after the
 * wasm package is loaded (e.g. after selectBackend()); before, only the
 * missing kernels can be added. Afterwards model.fit works on wasm
 * for convolutional, separable, pooling and embedding models and matches the
 * cpu backend. Idempotent; a missing kernel that the installed wasm backend
 * provides itself (a newer version) is not replaced. Needs neither the wasm
 * backend to be loaded nor to be active. Also registers the faster
 * batch-norm and clipping gradients of fast-grads.ts (all backends).
 *
 * @returns the names of the kernels slimlab serves for wasm after the call
 *   (the same list on every call)
 * @throws nothing of its own; tf.registerKernel errors propagate
 * @example
 * import "@tensorflow/tfjs-backend-wasm";
 * registerWasmGradients(); // ["Conv2DBackpropFilter", ..., "MaxPoolGrad"]
 * await tf.setBackend("wasm");
 * await model.fit(xs, ys, {epochs: 1});
 */
export function registerWasmGradients(): string[] {
  registerFastGradients();
  const served: string[] = [];
  for (const { name, impl, reason } of KERNELS) {
    const existing = tf.getKernel(name, BACKEND);
    if (isOurs(existing)) {
      served.push(name);
      continue;
    }
    // A missing kernel that wasm now has, or a wrong/slow one with no wasm
    // kernel yet (the package is not loaded: call again after loading it).
    if ((existing !== undefined) === (reason === "missing")) continue;
    if (existing !== undefined) tf.unregisterKernel(name, BACKEND);
    const kernelFunc: Tagged = (args) => impl(args, existing);
    kernelFunc[TAG] = { replaced: existing };
    // Keep the replaced kernel's setup: wasm binds its C function there, and
    // a delegating kernel (BatchMatMul) still calls it.
    tf.registerKernel({ ...existing, kernelName: name, backendName: BACKEND, kernelFunc });
    served.push(name);
  }
  return served;
}

/**
 * Undoes {@link registerWasmGradients}: removes slimlab's kernels and puts
 * back the wasm kernels they replaced (for tests, and to compare against a
 * stock wasm backend).
 *
 * @returns the names of the kernels removed
 * @example
 * unregisterWasmGradients(); // model.fit on wasm fails again for conv models
 */
export function unregisterWasmGradients(): string[] {
  const removed: string[] = [];
  for (const { name } of KERNELS) {
    const existing = tf.getKernel(name, BACKEND);
    if (existing === undefined || !isOurs(existing)) continue;
    const replaced = (existing.kernelFunc as Tagged)[TAG]?.replaced;
    tf.unregisterKernel(name, BACKEND);
    if (replaced !== undefined) tf.registerKernel(replaced);
    removed.push(name);
  }
  return removed;
}
