/**
 * What pruning does to a model's size and work, counted three ways because
 * "pruning did not make my model smaller" is the most common complaint:
 * - raw: float32 bytes as stored (unchanged by zeros);
 * - gzip: those bytes gzipped (runs of zeros compress);
 * - sparse: Deep Compression's relative-index format (Han, Mao & Dally
 *   2016, §2 and Fig. 2): each stored entry is a 32-bit value plus the gap
 *   to the previous stored entry in b bits (5 for fully connected, 8 for
 *   conv layers); a gap longer than 2^b inserts a filler zero entry.
 * Plus the FLOPs of Dense and conv layers, which only structured pruning
 * (with strip) lowers.
 */
import * as zlib from "zlib";
import * as tf from "@tensorflow/tfjs";
import { weightRole } from "../toolkit/layers";

/**
 * Entries of the relative-index format for one weight read as a flat
 * sequence: non-zeros plus filler zeros for gaps longer than 2^bits.
 *
 * @param values the weight's values, row-major
 * @param bits index bits (gaps up to 2^bits are representable)
 * @returns stored entries (each 32 + bits bits)
 * @example
 *   sparseEntries(Float32Array.from([0, 5, 0, 0, 7]), 3); // 2 (gaps 2 and 3)
 */
export function sparseEntries(values: ArrayLike<number>, bits: number): number {
  return scanWeight(values, bits).entries;
}

/**
 * Non-zeros and relative-index entries of one weight, in one pass (the
 * report reads every weight of the model, so one pass matters at 10M).
 *
 * @param values the weight's values, row-major
 * @param bits index bits
 * @returns non-zero count and stored entries
 * @example
 *   scanWeight(Float32Array.from([0, 5, 0, 0, 7]), 3); // {nonZeros: 2, entries: 2}
 */
export function scanWeight(values: ArrayLike<number>, bits: number): { nonZeros: number; entries: number } {
  const span = 2 ** bits;
  let entries = 0;
  let nonZeros = 0;
  let prev = -1;
  for (let i = 0; i < values.length; i++) {
    if (values[i] === 0) continue;
    nonZeros++;
    const gap = i - prev;
    entries += gap <= span ? 1 : Math.ceil(gap / span);
    prev = i;
  }
  return { nonZeros, entries };
}

/**
 * Bytes of one weight in the relative-index format (no codebook: values stay float32).
 *
 * @param values the weight's values
 * @param bits 5 for fully connected, 8 for conv (Han et al. 2016)
 * @returns ⌈entries · (32 + bits) / 8⌉
 * @example
 *   sparseBytes(new Float32Array(100), 5); // 0
 */
export function sparseBytes(values: ArrayLike<number>, bits: number): number {
  return Math.ceil((sparseEntries(values, bits) * (32 + bits)) / 8);
}

/**
 * Gzipped size of float32 data (zlib, default level).
 *
 * @param chunks arrays to concatenate, as the weights file would
 * @returns bytes after gzip
 * @example
 *   gzipBytes([new Float32Array(1000)]); // a few dozen bytes
 */
export function gzipBytes(chunks: readonly Float32Array[]): number {
  const bufs = chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  return zlib.gzipSync(Buffer.concat(bufs)).length;
}

/** Product of the known dimensions of a shape. */
function prod(shape: readonly (number | null)[]): number {
  return shape.reduce<number>((a, b) => a * (b ?? 1), 1);
}

/**
 * Floating-point operations of one forward pass of one sample through the
 * Dense and convolution layers (2 per multiply-add; activations, pooling and
 * normalisation not counted).
 *
 * @param model a built model
 * @returns FLOPs per sample
 * @example
 *   modelFlops(tf.sequential({ layers: [tf.layers.dense({ units: 10, inputShape: [784] })] })); // 15680
 */
export function modelFlops(model: tf.LayersModel): number {
  let flops = 0;
  for (const layer of model.layers) {
    const out = layer.outputShape as (number | null)[];
    const byRole = new Map(layer.weights.map((w) => [weightRole(w), w.shape as number[]] as const));
    switch (layer.getClassName()) {
      case "Dense": {
        const k = byRole.get("kernel") as number[];
        flops += 2 * (prod(out) / k[1]) * k[0] * k[1];
        break;
      }
      case "Conv1D":
      case "Conv2D": {
        const k = byRole.get("kernel") as number[];
        flops += 2 * prod(out.slice(1)) * prod(k.slice(0, -1));
        break;
      }
      case "DepthwiseConv2D": {
        const k = byRole.get("depthwise_kernel") as number[];
        flops += 2 * prod(out.slice(1)) * k[0] * k[1];
        break;
      }
      case "SeparableConv2D": {
        const d = byRole.get("depthwise_kernel") as number[];
        const p = byRole.get("pointwise_kernel") as number[];
        const positions = prod(out.slice(1, -1));
        flops += 2 * positions * (d[0] * d[1] * d[2] * d[3] + p[2] * p[3]);
        break;
      }
    }
  }
  return flops;
}
