/**
 * Threads for the wasm backend: asked for with `%backend wasm --threads N` or
 * the SLIMLAB_WASM_THREADS environment variable, and not available under
 * Node with tfjs-backend-wasm 4.22. Both give one line saying so.
 *
 * Why not (tried for issue #18, tfjs-backend-wasm 4.22.0, Node 20):
 * 1. tfjs decides WASM_HAS_MULTITHREAD_SUPPORT is false whenever IS_NODE
 *    (tfjs issue #3830), so the single-threaded SIMD binary is loaded and
 *    setThreadsCount() has no effect.
 * 2. Forcing the flag true loads tfjs-backend-wasm-threaded-simd.wasm, whose
 *    Emscripten glue starts its pthread workers from a blob: URL; Node's
 *    worker_threads.Worker refuses blob: URLs (ERR_WORKER_PATH) and the
 *    backend fails to start.
 * 3. Serving the worker script as a file (the package's wasm-out/…worker.js
 *    exports it as a string), rewriting the workers' "load" message to the
 *    script's path and keeping the workers unref'd makes the backend start
 *    and its eight pthread workers load. XNNPACK's pool then has
 *    min(asked, 8, logical cores / 2) threads, the cores counted once at
 *    start-up as os.cpus().length (navigator.hardwareConcurrency in a
 *    browser): on a 2-CPU machine, one. Reporting 4 CPUs to that count gave
 *    getThreadsCount() = 2, the work split evenly between the two threads
 *    and a 1024² matmul matched cpu's (7e-5); its speed-up could not be
 *    measured while another job held the second core. bench/threads.ts
 *    measures the same build in Chromium.
 * 4. In that build the heap is a shared memory, which the SIMD kernels of
 *    simd-kernels.ts (built for an unshared one) cannot import; they would
 *    need a second build (-matomics, --shared-memory, a 4 GiB maximum).
 * Shipping 3 would rest on private details of tfjs' Emscripten start-up
 * (the blob: worker URL, its "load" message, global Worker, a start-up
 * constant), so slimlab does not. For several cores on a CPU,
 * @tensorflow/tfjs-node (libtensorflow, threaded) is the backend to install
 * (README, "Backends").
 */
import { SlimlabError } from "../core/errors";

/** The environment variable asking for wasm threads. */
export const WASM_THREADS_ENV = "SLIMLAB_WASM_THREADS";

const WHY = "tfjs-backend-wasm 4.22 runs on one thread under Node (its threaded build cannot start its workers there; see plugins/backends/threads.ts); for several cores install @tensorflow/tfjs-node";

/**
 * Checks a thread count asked for the wasm backend.
 *
 * @param n the count from `%backend wasm --threads N`
 * @throws SlimlabError E_BACKEND for any count but 1, in one line
 * @example
 * checkWasmThreads(1); // fine
 * checkWasmThreads(4); // E_BACKEND: wasm --threads 4 is not available: tfjs-backend-wasm 4.22 runs on one thread ...
 */
export function checkWasmThreads(n: number): void {
  if (n !== 1) throw new SlimlabError("E_BACKEND", `wasm --threads ${n} is not available: ${WHY}.`);
}

/**
 * What start-up says about SLIMLAB_WASM_THREADS: nothing when unset or 1,
 * otherwise a one-line note that it is ignored and why.
 *
 * @param env the process environment (a parameter for tests)
 * @returns the note, or undefined
 * @example
 * wasmThreadsNote({ SLIMLAB_WASM_THREADS: "4" }); // "SLIMLAB_WASM_THREADS=4 ignored: tfjs-backend-wasm 4.22 runs on one thread ..."
 */
export function wasmThreadsNote(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = env[WASM_THREADS_ENV];
  if (v === undefined || v.trim() === "" || v.trim() === "1") return undefined;
  return `${WASM_THREADS_ENV}=${v} ignored: ${WHY}`;
}
