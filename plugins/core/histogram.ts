/**
 * Binning for histogram figures: the counts go to the browser instead of the
 * values, so a 10M-weight tensor sends a few hundred numbers, not 10M.
 */

/** Counts per bin and the bins' edges (one more edge than counts). */
export interface Histogram {
  edges: number[];
  counts: number[];
}

/**
 * Bins the values of several arrays together.
 *
 * @param arrays the values
 * @param lo left edge
 * @param hi right edge (values outside [lo, hi] go to the end bins)
 * @param bins number of bins
 * @param skipZeros leave exact zeros out (pruned weights)
 * @returns bin edges (bins + 1) and counts
 * @example
 *   histogram([Float32Array.from([0, 1, 2])], 0, 2, 2, false).counts; // [1, 2]
 */
export function histogram(arrays: readonly ArrayLike<number>[], lo: number, hi: number, bins: number, skipZeros: boolean): Histogram {
  const width = hi > lo ? (hi - lo) / bins : 1;
  const counts = new Array<number>(bins).fill(0);
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (skipZeros && v === 0) continue;
      counts[Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)))]++;
    }
  }
  return { edges: Array.from({ length: bins + 1 }, (_, i) => lo + i * width), counts };
}

/** Min and max over several arrays. */
export function range(arrays: readonly ArrayLike<number>[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of arrays) for (let i = 0; i < a.length; i++) {
    if (a[i] < lo) lo = a[i];
    if (a[i] > hi) hi = a[i];
  }
  return Number.isFinite(lo) ? [lo, hi] : [0, 1];
}

/** The middle of each bin, for a bar chart of the counts. */
export function binCenters(h: Histogram): number[] {
  return h.edges.slice(0, -1).map((e, i) => (e + h.edges[i + 1]) / 2);
}
