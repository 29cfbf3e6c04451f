/**
 * Wall-clock time of every kernel a backend runs, grouped by a phase label
 * the caller sets (forward, backward, optimizer, ...).
 *
 * tf.profile reports each kernel's time, but a kernel composed from other
 * kernels (slimlab's wasm gradients) appears once for itself and once for
 * each kernel it calls, with nothing saying which is which. Here every
 * kernel of the backend is re-registered with a wrapper that keeps a call
 * stack, so a composed kernel's time is counted once at the top level and
 * its children are listed under it. The wasm backend computes synchronously
 * inside the kernel call, so the wall time of the call is the kernel's time.
 */
import * as tf from "@tensorflow/tfjs";

/** Milliseconds by "phase / kernel" (top-level) and "phase / parent > child" (nested). */
export type Times = Map<string, number>;

export interface KernelTimer {
  /** Label for the kernels that run from now on. */
  phase: string;
  /** Times since the last take(), and starts a new record. */
  take(): Times;
  /** Puts the backend's original kernels back. */
  uninstall(): void;
}

/**
 * Wraps every kernel registered for `backend` with a timer.
 *
 * @param backend a tfjs backend name, e.g. "wasm"
 * @returns the timer; call uninstall() when done
 * @example
 * const t = installKernelTimer("wasm"); t.phase = "forward"; model.predict(x); t.take(); t.uninstall();
 */
export function installKernelTimer(backend: string): KernelTimer {
  const originals = tf.getKernelsForBackend(backend);
  const stack: string[] = [];
  let times: Times = new Map();
  const timer: KernelTimer = {
    phase: "other",
    take() {
      const t = times;
      times = new Map();
      return t;
    },
    uninstall() {
      for (const k of originals) {
        tf.unregisterKernel(k.kernelName, backend);
        tf.registerKernel(k);
      }
    },
  };
  const add = (key: string, ms: number) => times.set(key, (times.get(key) ?? 0) + ms);
  for (const k of originals) {
    const inner = k.kernelFunc;
    const kernelFunc: tf.KernelFunc = (args) => {
      stack.push(k.kernelName);
      const t0 = performance.now();
      try {
        return inner(args);
      } finally {
        const ms = performance.now() - t0;
        stack.pop();
        // Nested calls are listed under the outermost kernel; a child's own children fold into it.
        if (stack.length === 0) add(`${timer.phase} / ${k.kernelName}`, ms);
        else if (stack.length === 1) add(`${timer.phase} / ${stack[0]} > ${k.kernelName}`, ms);
      }
    };
    tf.unregisterKernel(k.kernelName, backend);
    tf.registerKernel({ ...k, kernelFunc });
  }
  return timer;
}
