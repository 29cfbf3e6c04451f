/**
 * Faster gradient formulas for three tfjs-core ops, on every backend.
 *
 * bench/profile.ts --model mobilenetv2 showed where a MobileNetV2 training
 * step went on wasm: 37% in Tile and another 15% in the Multiply and Sum
 * kernels of tfjs-core's FusedBatchNorm gradient, which tiles 1/√(var + ε)
 * to the full activation shape and multiplies full-size tensors once per
 * input; and 10% in the four kernels (GreaterEqual, LessEqual, LogicalAnd,
 * Select) of the ClipByValue gradient behind ReLU6.
 *
 * - FusedBatchNorm with per-channel statistics (rank-1 mean, the layers
 *   API's case): every gradient is built from two per-channel sums, Σdy and
 *   Σdy·(x − mean), and dx = dy · scale/√(var + ε) is one broadcast multiply.
 *   The same values as tfjs-core's formula up to float rounding (the test
 *   compares them). Other shapes keep tfjs-core's formula.
 * - ClipByValue and Relu6: on a backend whose tensors live in a wasm heap,
 *   the gradient is one pass over dy and x: dy where x is inside the range,
 *   0 elsewhere and where x is NaN (as tfjs-core's composition gives on cpu;
 *   on wasm its Select passed NaN through). Elsewhere tfjs-core's formula.
 *
 * Gradients are registered by kernel name for all backends; the replaced
 * configs are kept so that {@link unregisterFastGradients} restores them.
 */
import * as tf from "@tensorflow/tfjs";
import { heapBackend, heapOffset as offset } from "./heap-kernels";
import { simdKernels } from "./simd-kernels";

type GradFunc = tf.GradConfig["gradFunc"];

/** tfjs-core's configs that these replaced, by kernel name. */
const replaced = new Map<string, tf.GradConfig>();

/** Per-channel batch-norm gradients from two channel sums (see the file comment). */
function batchNormGrad(stock: GradFunc): GradFunc {
  return (dys, saved, attrs) => {
    const dy = dys as tf.Tensor;
    const [x, mean, variance, scale] = saved;
    if (mean.rank !== 1 || variance.rank !== 1 || (scale != null && scale.rank !== 1)) return stock(dy, saved, attrs);
    const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const inv = tf.rsqrt(tf.add(variance, varianceEpsilon));
    const k = scale == null ? inv : tf.mul(scale, inv); // scale / √(var + ε)
    const [sumDy, sumDyXmm] = channelSumsOnHeap(dy, x, mean) ?? [tf.sum(dy, axes), tf.tidy(() => tf.sum(tf.mul(dy, tf.sub(x, mean)), axes))];
    return {
      x: () => tf.mul(dy, k),
      mean: () => tf.neg(tf.mul(k, sumDy)),
      // d/dvar of (x − mean)·scale·(var + ε)^(−1/2) is −½·scale·(var + ε)^(−3/2)·(x − mean).
      variance: () => tf.mul(tf.mul(k, tf.mul(tf.square(inv), -0.5)), sumDyXmm),
      scale: () => tf.mul(inv, sumDyXmm),
      offset: () => tf.clone(sumDy),
    };
  };
}

/**
 * Σdy and Σdy·(x − mean) per channel (the last axis) in one pass over the
 * wasm heap: the SIMD kernel sums in float32 like wasm's Sum, the JavaScript
 * loop (SIMD module unavailable) in float64. Undefined when the tensors are
 * not on a heap backend.
 */
function channelSumsOnHeap(dy: tf.Tensor, x: tf.Tensor, mean: tf.Tensor): [tf.Tensor1D, tf.Tensor1D] | undefined {
  const backend = heapBackend(tf.backend());
  if (backend === undefined || dy.dtype !== "float32" || x.dtype !== "float32" || mean.dtype !== "float32" || dy.size !== x.size) return undefined;
  const c = mean.size;
  const simd = simdKernels(backend);
  if (simd !== undefined) {
    const sums = [backend.makeOutput([c], "float32"), backend.makeOutput([c], "float32")];
    simd.channel_sums(offset(backend, dy), offset(backend, x), offset(backend, mean), offset(backend, sums[0]), offset(backend, sums[1]), dy.size / c, c);
    return sums.map((t) => tf.engine().makeTensorFromTensorInfo(t)) as [tf.Tensor1D, tf.Tensor1D];
  }
  const sd = new Float64Array(c), sdx = new Float64Array(c);
  const d = backend.typedArrayFromHeap(dy) as Float32Array;
  const v = backend.typedArrayFromHeap(x) as Float32Array;
  const m = Float64Array.from(backend.typedArrayFromHeap(mean) as Float32Array);
  for (let i = 0; i < d.length; i += c) {
    for (let j = 0; j < c; j++) {
      const g = d[i + j];
      sd[j] += g;
      sdx[j] += g * (v[i + j] - m[j]);
    }
  }
  return [tf.tensor1d(Float32Array.from(sd)), tf.tensor1d(Float32Array.from(sdx))];
}

/**
 * dy where lo ≤ x ≤ hi (or lo < x ≤ hi when `openLow`), 0 elsewhere, in one
 * pass over the wasm heap; undefined when the tensors are not on a heap backend.
 */
function maskedOnHeap(dy: tf.Tensor, x: tf.Tensor, lo: number, hi: number, openLow: boolean): tf.Tensor | undefined {
  const backend = heapBackend(tf.backend());
  if (backend === undefined || dy.dtype !== "float32" || x.dtype !== "float32" || dy.size !== x.size) return undefined;
  const info = backend.makeOutput(dy.shape, "float32");
  const simd = simdKernels(backend);
  if (simd !== undefined) {
    simd.mask_grad(offset(backend, dy), offset(backend, x), offset(backend, info), dy.size, lo, hi, openLow ? 1 : 0);
    return tf.engine().makeTensorFromTensorInfo(info);
  }
  // Views only after the allocation: growing wasm memory detaches older ones.
  const out = backend.typedArrayFromHeap(info) as Float32Array;
  const d = backend.typedArrayFromHeap(dy) as Float32Array;
  const v = backend.typedArrayFromHeap(x) as Float32Array;
  if (openLow) for (let i = 0; i < out.length; i++) out[i] = v[i] > lo && v[i] <= hi ? d[i] : 0;
  else for (let i = 0; i < out.length; i++) out[i] = v[i] >= lo && v[i] <= hi ? d[i] : 0;
  return tf.engine().makeTensorFromTensorInfo(info);
}

function clipGrad(stock: GradFunc): GradFunc {
  return (dys, saved, attrs) => {
    const dy = dys as tf.Tensor;
    const { clipValueMin, clipValueMax } = attrs as unknown as tf.ClipByValueAttrs;
    const fallback = stock(dy, saved, attrs);
    return { x: () => maskedOnHeap(dy, saved[0], clipValueMin, clipValueMax, false) ?? fallback.x() };
  };
}

/** ReLU6's gradient passes dy where 0 < x ≤ 6 (tfjs-core: lessEqual(x, 6) · step(x)). */
function relu6Grad(stock: GradFunc): GradFunc {
  return (dys, saved, attrs) => {
    const dy = dys as tf.Tensor;
    const fallback = stock(dy, saved, attrs);
    return { x: () => maskedOnHeap(dy, saved[0], 0, 6, true) ?? fallback.x() };
  };
}

const FAST: ReadonlyArray<{ name: string; make: (stock: GradFunc) => GradFunc }> = [
  { name: tf.FusedBatchNorm, make: batchNormGrad },
  { name: tf.ClipByValue, make: clipGrad },
  { name: tf.Relu6, make: relu6Grad },
];

/**
 * Registers the faster gradients of FusedBatchNorm, ClipByValue and Relu6
 * (see the file comment) in place of tfjs-core's. Idempotent.
 *
 * @returns the kernel names whose gradients are slimlab's after the call
 * @example
 * registerFastGradients(); // ["FusedBatchNorm", "ClipByValue", "Relu6"]
 */
export function registerFastGradients(): string[] {
  for (const { name, make } of FAST) {
    if (replaced.has(name)) continue;
    const stock = tf.getGradient(name);
    if (stock === undefined) continue;
    replaced.set(name, stock);
    tf.registerGradient({ ...stock, gradFunc: make(stock.gradFunc) });
  }
  return [...replaced.keys()];
}

/**
 * Puts tfjs-core's gradients back (for tests and comparisons).
 *
 * @returns the kernel names restored
 * @example
 * unregisterFastGradients(); // ["FusedBatchNorm", "ClipByValue", "Relu6"]
 */
export function unregisterFastGradients(): string[] {
  const names = [...replaced.keys()];
  for (const [, stock] of replaced) tf.registerGradient(stock);
  replaced.clear();
  return names;
}
