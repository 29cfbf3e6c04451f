/**
 * The compiled SIMD versions of heap-kernels.ts's loops (simd/heap-kernels.c,
 * built by simd/build.sh and shipped as base64 in simd/heap-kernels-wasm.ts),
 * instantiated on tfjs-backend-wasm's own memory so they read and write its
 * tensors in place. Where that memory cannot be reached or the module does
 * not instantiate (another tfjs-backend-wasm build, a shared memory), the
 * caller keeps to the JavaScript loops.
 */
import { HEAP_KERNELS_WASM } from "./simd/heap-kernels-wasm";

type Geometry16 = [number, number, number, number, number, number, number, number, number, number, number, number, number, number];

/** The module's exports; pointers are byte offsets into tfjs-backend-wasm's memory. */
export interface SimdKernels {
  im2col_t(xt: number, cols: number, ...g: Geometry16): void;
  col2im(cols: number, dx: number, ...g: Geometry16): void;
  max_pool_grad(x: number, dy: number, dx: number, n: number, h: number, w: number, c: number, outH: number, outW: number, fh: number, fw: number, sh: number, sw: number, pt: number, pl: number): void;
  channel_sums(dy: number, x: number, mean: number, sd: number, sdx: number, rows: number, c: number): void;
  mask_grad(dy: number, x: number, out: number, size: number, lo: number, hi: number, openLow: number): void;
  /** Channel multiplier 1 only. */
  depthwise_filter_grad(x: number, dy: number, dw: number, ...g: Geometry16): void;
  depthwise_input_grad(dy: number, filter: number, dx: number, ...g: Geometry16): void;
  column_sums(x: number, out: number, rows: number, c: number, scale: number): void;
  /** p: [mean | scale/√(variance+ε) | offset], 3·c floats. */
  batch_norm(x: number, p: number, out: number, rows: number, c: number): void;
  /** out[r][ch] = x[r][ch] + b[ch]. */
  channel_add(x: number, b: number, out: number, rows: number, c: number): void;
}

let compiled: WebAssembly.Module | undefined;
let enabled = true;

/**
 * Turns the SIMD kernels off (the JavaScript loops run) or back on: for
 * tests that check both paths, and for measuring one against the other.
 *
 * @param on false for the JavaScript loops
 * @returns the previous setting
 */
export function useSimdKernels(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}
const instances = new WeakMap<WebAssembly.Memory, SimdKernels | null>();

/**
 * The SIMD kernels bound to `backend`'s memory, or undefined (then use the
 * JavaScript loops).
 *
 * @param backend the wasm backend of a kernel call
 * @returns the module's exports, instantiated once per memory
 */
export function simdKernels(backend: unknown): SimdKernels | undefined {
  if (!enabled) return undefined;
  const memory = (backend as { wasm?: { asm?: { memory?: unknown } } } | undefined)?.wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  let found = instances.get(memory);
  if (found === undefined) {
    try {
      compiled ??= new WebAssembly.Module(Buffer.from(HEAP_KERNELS_WASM, "base64"));
      found = new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as SimdKernels;
    } catch {
      found = null;
    }
    instances.set(memory, found);
  }
  return found ?? undefined;
}
