/**
 * Percentiles and summary statistics of timings.
 *
 * Percentiles use linear interpolation between closest ranks, numpy's
 * default (`np.percentile(a, q)`, method "linear"; Hyndman & Fan 1996,
 * definition 7): sort the n values, take the fractional rank
 * h = (n − 1)·q/100, and return x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]).
 */
import { SlimlabError, show } from "../core/errors";

function checkValues(values: readonly number[], fn: string): void {
  if (!Array.isArray(values) || values.length === 0) {
    throw new SlimlabError("E_ARG", `${fn}: values got ${show(values)}; allowed: a non-empty array of numbers`);
  }
  const bad = values.findIndex((v) => typeof v !== "number" || Number.isNaN(v));
  if (bad >= 0) throw new SlimlabError("E_ARG", `${fn}: values[${bad}] is ${show(values[bad])}; allowed: numbers (no NaN)`);
}

/** q-th percentile of already sorted values (no checks). */
function fromSorted(sorted: readonly number[], q: number): number {
  const h = ((sorted.length - 1) * q) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * The q-th percentile of `values`, as numpy's default computes it.
 *
 * @param values a non-empty array of numbers (not changed)
 * @param q the percentile, 0 to 100
 * @returns the interpolated value
 * @throws SlimlabError E_ARG for an empty array, NaN values or q outside [0, 100]
 * @example
 *   percentile([1, 2, 3, 4], 50); // 2.5, as np.percentile([1, 2, 3, 4], 50)
 */
export function percentile(values: readonly number[], q: number): number {
  checkValues(values, "percentile");
  if (typeof q !== "number" || !(q >= 0 && q <= 100)) {
    throw new SlimlabError("E_ARG", `percentile: q got ${show(q)}; allowed: a number from 0 to 100`);
  }
  return fromSorted([...values].sort((a, b) => a - b), q);
}

/** Summary of a set of timings (same unit as the input). */
export interface TimingStats {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  /** Sample standard deviation (n − 1 in the denominator; 0 for one value). */
  std: number;
  min: number;
  max: number;
}

/**
 * Median, 90th and 99th percentiles, mean, standard deviation and range.
 *
 * @param values a non-empty array of timings
 * @returns the statistics, percentiles as {@link percentile} computes them
 * @throws SlimlabError E_ARG for an empty array or NaN values
 * @example
 *   timingStats([3, 1, 2]).p50; // 2
 */
export function timingStats(values: readonly number[]): TimingStats {
  checkValues(values, "timingStats");
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return {
    n,
    p50: fromSorted(sorted, 50),
    p90: fromSorted(sorted, 90),
    p99: fromSorted(sorted, 99),
    mean,
    std: Math.sqrt(variance),
    min: sorted[0],
    max: sorted[n - 1],
  };
}
