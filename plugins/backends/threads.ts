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
 *    exports it as a string) and the main script by path makes the backend
 *    start and its eight pthread workers load, but XNNPACK's thread pool
 *    still reports one thread (get_threads_count() = 1 after
 *    setThreadsCount(2), also when re-initialised after the workers loaded),
 *    and a 1024² matmul is no faster. Making it work would mean patching
 *    tfjs-backend-wasm's Emscripten start-up, not configuring it.
 * For several cores on a CPU, @tensorflow/tfjs-node (libtensorflow, threaded)
 * is the backend to install (README, "Backends").
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
