/**
 * Weight sharing by 1-D k-means (Deep Compression, Han, Mao & Dally 2016,
 * §3.1): each layer's weights are replaced by one of k = 2^bits shared
 * centroids, stored once in a codebook; the weights keep only their index.
 *
 * Two ways to pick centroids:
 * - "linear": centroids spaced evenly between min and max, then Lloyd
 *   iterations. Deep Compression (§3.2, Fig. 4) found this initialisation
 *   the most accurate, because it keeps the few large weights that matter.
 * - "optimal": the least-squares optimum by dynamic programming over the
 *   sorted values (Wang & Song 2011, Ckmeans.1d.dp: clusters of sorted 1-D
 *   data are contiguous runs; the best split points are monotone, so each
 *   DP row is found by divide and conquer in O(n log n)). Tensors with more
 *   than `maxPoints` values are first binned into `maxPoints` equal-width
 *   bins (count, sum, sum of squares per bin): the DP is then exact over
 *   clusterings whose borders fall between bins, which for 16384 bins is
 *   within rounding of the true optimum; a Lloyd pass on the raw values
 *   follows (it never increases the error).
 * Lloyd iterations run on the sorted values with prefix sums: in 1-D a
 * cluster is the run between two midpoints, so one iteration costs
 * O(k log n), not O(n k).
 *
 * Pruned tensors: Deep Compression clusters only the weights that survived
 * pruning (§3: "weight sharing … on the pruned network"); the pruned ones
 * stay exactly zero and are stored by their relative index (§2, Fig. 2),
 * not by a code. Clustering the zeros too would spend one centroid on them,
 * and that centroid, a mean, comes out near 1e-7 instead of 0, so every
 * pruned weight would come back as a tiny non-zero. quantizeKmeans
 * therefore clusters the non-zeros of a tensor that has exact zeros and
 * marks the zeros in `kept` (quantized.ts).
 */
import { QuantizedTensor, survivorMask } from "./quantized";

export type KmeansInit = "linear" | "optimal";

/** Sorted values with prefix sums (shifted by the mean to keep sums of squares accurate). */
interface Sorted {
  v: Float64Array;
  s1: Float64Array;
  s2: Float64Array;
  shift: number;
}

function sortValues(values: Float32Array): Sorted {
  const v = Float64Array.from(values).sort();
  let mean = 0;
  for (let i = 0; i < v.length; i++) mean += v[i];
  mean = v.length ? mean / v.length : 0;
  const s1 = new Float64Array(v.length + 1);
  const s2 = new Float64Array(v.length + 1);
  for (let i = 0; i < v.length; i++) {
    const d = v[i] - mean;
    s1[i + 1] = s1[i] + d;
    s2[i + 1] = s2[i] + d * d;
  }
  return { v, s1, s2, shift: mean };
}

/** First index whose value is ≥ t. */
function lowerBound(v: Float64Array, t: number): number {
  let lo = 0;
  let hi = v.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Lloyd iterations on sorted data until the clusters stop changing; centroids stay sorted. */
function lloyd(data: Sorted, start: Float64Array, maxIter: number): Float64Array {
  const c = Float64Array.from(start).sort();
  const k = c.length;
  const n = data.v.length;
  let prev = new Int32Array(k + 1).fill(-1);
  for (let it = 0; it < maxIter; it++) {
    const cut = new Int32Array(k + 1);
    cut[k] = n;
    for (let j = 1; j < k; j++) cut[j] = lowerBound(data.v, (c[j - 1] + c[j]) / 2);
    if (cut.every((x, i) => x === prev[i])) break;
    for (let j = 0; j < k; j++) {
      const count = cut[j + 1] - cut[j];
      if (count > 0) c[j] = (data.s1[cut[j + 1]] - data.s1[cut[j]]) / count + data.shift;
    }
    prev = cut;
  }
  return c;
}

/** Weighted groups (points or histogram bins) with prefix count/sum/sumsq. */
interface Groups {
  count: Float64Array;
  s1: Float64Array;
  s2: Float64Array;
  size: number;
}

function groupsOf(data: Sorted, maxPoints: number): Groups {
  const n = data.v.length;
  if (n <= maxPoints) {
    const count = new Float64Array(n + 1);
    for (let i = 0; i <= n; i++) count[i] = i;
    return { count, s1: data.s1, s2: data.s2, size: n };
  }
  const lo = data.v[0];
  const width = (data.v[n - 1] - lo) / maxPoints;
  const count = [0];
  const s1 = [0];
  const s2 = [0];
  let i = 0;
  while (i < n) {
    const bin = width > 0 ? Math.min(maxPoints - 1, Math.floor((data.v[i] - lo) / width)) : 0;
    const end = bin === maxPoints - 1 ? n : lowerBound(data.v, lo + (bin + 1) * width);
    const stop = Math.max(end, i + 1);
    count.push(stop);
    s1.push(data.s1[stop]);
    s2.push(data.s2[stop]);
    i = stop;
  }
  return { count: Float64Array.from(count), s1: Float64Array.from(s1), s2: Float64Array.from(s2), size: count.length - 1 };
}

/** Sum of squared deviations of groups a..b (inclusive) from their mean. */
function cost(g: Groups, a: number, b: number): number {
  const n = g.count[b + 1] - g.count[a];
  const s = g.s1[b + 1] - g.s1[a];
  return Math.max(0, g.s2[b + 1] - g.s2[a] - (s * s) / n);
}

/** Optimal contiguous partition of the groups into k clusters; returns the centroids. */
function dynamicProgram(data: Sorted, g: Groups, k: number): Float64Array {
  const G = g.size;
  const kk = Math.min(k, G);
  let prev = new Float64Array(G);
  for (let i = 0; i < G; i++) prev[i] = cost(g, 0, i);
  const arg: Int32Array[] = [new Int32Array(G)];
  for (let j = 1; j < kk; j++) {
    const cur = new Float64Array(G).fill(Infinity);
    const best = new Int32Array(G);
    const last = prev;
    // Row j: cluster j covers groups m..i; split points are monotone in i.
    const solve = (lo: number, hi: number, optLo: number, optHi: number): void => {
      if (lo > hi) return;
      const mid = (lo + hi) >>> 1;
      let bestVal = Infinity;
      let bestM = Math.max(optLo, j);
      for (let m = Math.max(optLo, j); m <= Math.min(mid, optHi); m++) {
        const val = last[m - 1] + cost(g, m, mid);
        if (val < bestVal) {
          bestVal = val;
          bestM = m;
        }
      }
      cur[mid] = bestVal;
      best[mid] = bestM;
      solve(lo, mid - 1, optLo, bestM);
      solve(mid + 1, hi, bestM, optHi);
    };
    solve(j, G - 1, j, G - 1);
    arg.push(best);
    prev = cur;
  }
  const centroids = new Float64Array(kk);
  let end = G - 1;
  for (let j = kk - 1; j >= 0; j--) {
    const start = j === 0 ? 0 : arg[j][end];
    const n = g.count[end + 1] - g.count[start];
    centroids[j] = (g.s1[end + 1] - g.s1[start]) / n + data.shift;
    end = start - 1;
  }
  return centroids;
}

/** Options of {@link quantizeKmeans}. */
export interface KmeansOptions {
  /** k = 2^bits centroids, 1–8 bits. */
  bits: number;
  /** Centroid initialisation; default "linear". */
  init?: KmeansInit;
  /** Most Lloyd iterations; default 100. */
  iterations?: number;
  /** Values (or histogram bins) the optimal DP works on; default 16384. */
  maxPoints?: number;
}

/**
 * The k-means codebook of a tensor's values.
 *
 * @param values finite values
 * @param opts bits, init, iterations, maxPoints
 * @returns the sorted codebook (float32, at most 2^bits entries; fewer only
 *   when there are fewer distinct values)
 * @example
 *   kmeansCodebook(new Float32Array([0, 0.1, 1, 1.1]), { bits: 1 }); // [0.05, 1.05]
 */
export function kmeansCodebook(values: Float32Array, opts: KmeansOptions): Float32Array {
  const k = 2 ** opts.bits;
  const data = sortValues(values);
  const n = data.v.length;
  if (n === 0) return new Float32Array([0]);
  const iterations = opts.iterations ?? 100;
  let start: Float64Array;
  if ((opts.init ?? "linear") === "optimal") {
    start = dynamicProgram(data, groupsOf(data, opts.maxPoints ?? 16384), k);
  } else {
    const lo = data.v[0];
    const hi = data.v[n - 1];
    start = new Float64Array(k).map((_, j) => (k === 1 ? data.s1[n] / n + data.shift : lo + ((hi - lo) * j) / (k - 1)));
  }
  const c = lloyd(data, start, iterations);
  // Equal centroids (a constant tensor) would waste codes: keep one of each.
  return Float32Array.from(new Set(Array.from(c, Math.fround))).sort();
}

/**
 * Codes of each value: the index of its nearest codebook entry.
 *
 * @param values finite values
 * @param codebook sorted entries
 * @returns uint8 indices
 * @example
 *   assignCodes(new Float32Array([0.2, 0.9]), new Float32Array([0, 1])); // [0, 1]
 */
export function assignCodes(values: Float32Array, codebook: Float32Array): Uint8Array {
  const k = codebook.length;
  const mids = new Float64Array(Math.max(0, k - 1));
  for (let j = 0; j + 1 < k; j++) mids[j] = (codebook[j] + codebook[j + 1]) / 2;
  const codes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let lo = 0;
    let hi = mids.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (mids[m] < v) lo = m + 1;
      else hi = m;
    }
    codes[i] = lo;
  }
  return codes;
}

/**
 * Mean squared error of representing `values` by their nearest codebook entry.
 *
 * @param values finite values
 * @param codebook sorted entries
 * @returns the MSE
 * @example
 *   codebookMse(new Float32Array([0, 1]), new Float32Array([0, 1])); // 0
 */
export function codebookMse(values: Float32Array, codebook: Float32Array): number {
  const codes = assignCodes(values, codebook);
  let s = 0;
  for (let i = 0; i < values.length; i++) {
    const d = values[i] - codebook[codes[i]];
    s += d * d;
  }
  return values.length ? s / values.length : 0;
}

/**
 * The values k-means clusters: the non-zeros when the tensor has exact
 * zeros (a pruned layer, see the module comment), else all of them.
 *
 * @param values float32 values
 * @returns the values to cluster (a copy only when zeros were dropped)
 * @example
 *   clusteredValues(new Float32Array([0, 0.5, 0, -1])); // [0.5, -1]
 */
export function clusteredValues(values: Float32Array): Float32Array {
  return survivorMask(values) === undefined ? values : values.filter((v) => v !== 0);
}

/**
 * Quantizes a tensor by k-means weight sharing. When the tensor has exact
 * zeros (and non-zeros), only the non-zeros are clustered: they get codes
 * into at most 2^bits centroids, the zeros stay +0 and are marked in
 * `kept` (Deep Compression §2–3).
 *
 * @param values finite float32 values
 * @param shape their shape
 * @param opts bits (1–8), init, iterations, maxPoints
 * @returns codes into a per-tensor codebook, the decoded values, and `kept`
 *   for a tensor with zeros
 * @example
 *   const q = quantizeKmeans(w, [784, 300], { bits: 6 });
 *   new Set(q.values).size <= 64; // true (65 with the zeros of a pruned w)
 */
export function quantizeKmeans(values: Float32Array, shape: readonly number[], opts: KmeansOptions): QuantizedTensor {
  const kept = survivorMask(values);
  const codebook = kmeansCodebook(kept ? values.filter((v) => v !== 0) : values, opts);
  const codes = assignCodes(values, codebook);
  const out = new Float32Array(values.length);
  for (let i = 0; i < out.length; i++) {
    if (kept && kept[i] === 0) codes[i] = 0; // no code: stored by position, decodes to +0
    else out[i] = codebook[codes[i]];
  }
  const q: QuantizedTensor = { scheme: "kmeans", bits: opts.bits, shape: [...shape], codes, decoding: { kind: "codebook", codebook }, values: out };
  if (kept) q.kept = kept;
  return q;
}
