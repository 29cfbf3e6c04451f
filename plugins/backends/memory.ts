/**
 * Out-of-memory failures in the user's terms. tfjs' wasm backend reports a
 * tensor too large for its heap as `RangeError: offset is out of bounds`
 * (its malloc returned 0 and the copy ran off the heap), and Node reports
 * typed arrays it cannot make as `Invalid typed array length` or `Array
 * buffer allocation failed`. This module remembers the last allocation the
 * wasm heap refused, so the message can name its size and the limit.
 */
import * as tf from "@tensorflow/tfjs";
import { constants } from "buffer";

/** The wasm heap's hard limit: wasm32 addresses 4 GiB. */
export const WASM_HEAP_LIMIT = 4 * 1024 ** 3;

interface WasmModule {
  _malloc(bytes: number): number;
  HEAPU8: Uint8Array;
}

const WRAPPED = Symbol.for("slimlab.mallocWatched");
let lastRefused: { bytes: number; heap: number } | undefined;

/** Formats a byte count as B, KB, MB or GB (powers of 1024, one decimal). */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/**
 * Wraps the wasm backend's malloc (once per backend instance) to remember
 * refused allocations. Call after the wasm backend is registered; a no-op
 * when it is absent.
 */
export function watchWasmAllocations(): void {
  const backend = tf.findBackend("wasm") as unknown as { wasm?: WasmModule } | null;
  const wasm = backend?.wasm as (WasmModule & { [WRAPPED]?: boolean }) | undefined;
  if (!wasm || wasm[WRAPPED]) return;
  const malloc = wasm._malloc.bind(wasm);
  wasm._malloc = (bytes: number) => {
    const at = malloc(bytes);
    // wasm32 takes the size modulo 2^32, so a request that large "succeeds" with a tiny block.
    if ((at === 0 && bytes > 0) || bytes >= WASM_HEAP_LIMIT) lastRefused = { bytes, heap: wasm.HEAPU8.length };
    return at;
  };
  wasm[WRAPPED] = true;
}

/**
 * A one-line explanation when `e` is an allocation failure, else undefined.
 *
 * @example
 *   explainMemoryError(new RangeError("Invalid typed array length: 8589934592"));
 *   // "could not make a typed array of 8,589,934,592 elements: ..."
 */
export function explainMemoryError(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  const msg = e.message;
  const refused = lastRefused;
  lastRefused = undefined;
  if (/offset is out of bounds|Cannot enlarge memory|Aborted\(OOM\)|could not allocate memory/i.test(msg)) {
    const what = refused ? `a tensor of ${formatBytes(refused.bytes)}` : "a tensor";
    const heap = refused ? `; the heap holds ${formatBytes(refused.heap)} already` : "";
    return `${what} does not fit in the wasm backend's memory (at most ${formatBytes(WASM_HEAP_LIMIT)}${heap}); use smaller batches or shapes, or dispose tensors you no longer need (tf.memory() shows what is held)`;
  }
  const len = /Invalid typed array length: (\d+)/.exec(msg);
  if (len) {
    return `could not make a typed array of ${Number(len[1]).toLocaleString("en-US")} elements: Node allows at most ${constants.MAX_LENGTH.toLocaleString("en-US")} bytes per buffer here; split the data into smaller arrays`;
  }
  if (/Array buffer allocation failed/.test(msg)) {
    return "the machine has no memory left for this buffer; free memory (dispose tensors, drop large arrays) or use smaller data";
  }
  return undefined;
}
