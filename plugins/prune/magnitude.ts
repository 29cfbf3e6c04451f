/**
 * Magnitude (unstructured) pruning: W' = W if |W| > θ else 0 (seeds/000,
 * §4.1), with θ chosen three ways:
 * - sparsity s: θ is the k-th smallest |w|, k = round(s·n), and exactly k
 *   weights are zeroed even when several share the value θ (ties broken by
 *   position, earlier first), per weight or across all of them (scope);
 * - threshold θ given directly;
 * - stdMultiplier q: θ = q·std(W) per layer (Han et al. 2015, §3: "quality
 *   parameter multiplied by the standard deviation of a layer's weights").
 *
 * Pure, like PyTorch's compute_mask: tensors in, new mask tensors out; the
 * model is never touched here. Weights already pruned (mask 0 in `previous`)
 * rank below every live weight and stay pruned: pruning never revives.
 */
import * as tf from "@tensorflow/tfjs";

export type Scope = "layer" | "global";

/** How θ is chosen. */
export type MagnitudeTarget = { sparsity: number } | { threshold: number } | { stdMultiplier: number };

/** One weight to prune. */
export interface MaskInput {
  /** Weight name, "<layer>/<role>". */
  name: string;
  value: tf.Tensor;
  /** The weight's current mask (0 = already pruned), if any. */
  previous?: tf.Tensor;
}

export interface MagnitudeMasks {
  /** Weight name → new 0/1 float32 mask (the caller owns these tensors). */
  masks: Map<string, tf.Tensor>;
  /** Weight name → θ used (for sparsity: the largest |w| pruned, 0 if none). */
  thresholds: Map<string, number>;
}

/**
 * The value of rank k (0-based, ascending) among unsigned 32-bit keys, and
 * how many keys are smaller: a two-pass radix selection (high 16 bits, then
 * low 16 bits within the chosen bucket), O(n) whatever the ties.
 *
 * @param keys the keys (not reordered)
 * @param k rank, 0 ≤ k < keys.length
 * @returns the key of rank k and the count of keys below it
 * @example
 *   rankKey(Uint32Array.from([5, 1, 5, 3]), 2); // {key: 5, below: 2}
 */
export function rankKey(keys: Uint32Array, k: number): { key: number; below: number } {
  const hist = new Uint32Array(65536);
  for (let i = 0; i < keys.length; i++) hist[keys[i] >>> 16]++;
  let below = 0;
  let hi = 0;
  while (below + hist[hi] <= k) below += hist[hi++];
  hist.fill(0);
  for (let i = 0; i < keys.length; i++) if (keys[i] >>> 16 === hi) hist[keys[i] & 0xffff]++;
  let lo = 0;
  while (below + hist[lo] <= k) below += hist[lo++];
  return { key: ((hi << 16) | lo) >>> 0, below };
}

/** One weight's values and current mask, read once. */
interface Loaded {
  values: Float32Array;
  /** Current mask (0 = pruned), if any. */
  prev?: ArrayLike<number>;
}

/** The score of entry i: |w| when live, −1 when already pruned (so pruned entries are chosen first). */
function score(w: Loaded, i: number): number {
  return w.prev !== undefined && w.prev[i] === 0 ? -1 : Math.abs(w.values[i]);
}

/**
 * Sort keys of |w|: for non-negative floats the IEEE-754 bit patterns order
 * like the values, so |w| is its bits with the sign cleared, plus one;
 * already pruned entries get 0 and so rank below every live weight.
 */
function keyOf(bits: Uint32Array, prev: ArrayLike<number> | undefined, i: number): number {
  return prev !== undefined && prev[i] === 0 ? 0 : (bits[i] & 0x7fffffff) + 1;
}

/** |w| for a key (−1 for pruned entries). */
function keyValue(key: number): number {
  return key === 0 ? -1 : new Float32Array(Uint32Array.of(key - 1).buffer)[0];
}

/**
 * Masks zeroing exactly k entries of the lowest |w| of `group` taken as one
 * sequence (ties at θ: earlier entries first); already pruned entries stay
 * pruned even when k is smaller.
 *
 * @returns masks per member and θ (the k-th smallest |w|, 0 when only pruned entries are chosen)
 */
function pruneLowest(group: readonly Loaded[], k: number): { masks: Float32Array[]; theta: number } {
  const total = group.reduce((n, w) => n + w.values.length, 0);
  const bits = group.map((w) => new Uint32Array(w.values.buffer, w.values.byteOffset, w.values.length));
  let cut = 0;
  let ties = 0;
  if (k > 0) {
    const keys = new Uint32Array(total);
    let at = 0;
    group.forEach((w, j) => {
      for (let i = 0; i < w.values.length; i++) keys[at++] = keyOf(bits[j], w.prev, i);
    });
    const r = rankKey(keys, Math.min(k, total) - 1);
    cut = r.key;
    ties = k - r.below;
  }
  const masks = group.map((w, j) => {
    const m = new Float32Array(w.values.length);
    for (let i = 0; i < m.length; i++) {
      const key = keyOf(bits[j], w.prev, i);
      m[i] = key === 0 || key < cut || (key === cut && ties-- > 0) ? 0 : 1;
    }
    return m;
  });
  return { masks, theta: k > 0 ? Math.max(0, keyValue(cut)) : 0 };
}

/** Population std of the live weights of `group` taken together. */
function liveStd(group: readonly Loaded[]): number {
  let n = 0;
  let sum = 0;
  let sq = 0;
  for (const w of group) {
    for (let i = 0; i < w.values.length; i++) {
      if (score(w, i) < 0) continue;
      const v = w.values[i];
      n++;
      sum += v;
      sq += v * v;
    }
  }
  if (n === 0) return 0;
  const mean = sum / n;
  return Math.sqrt(Math.max(0, sq / n - mean * mean));
}

/** Mask of |w| > θ (already pruned entries stay 0). */
function aboveTheta(w: Loaded, theta: number): Float32Array {
  const m = new Float32Array(w.values.length);
  for (let i = 0; i < m.length; i++) m[i] = score(w, i) > theta ? 1 : 0;
  return m;
}

/**
 * Magnitude masks for a set of weights.
 *
 * @param weights the weights to prune with their current masks
 * @param target {sparsity} in [0, 1), {threshold} ≥ 0, or {stdMultiplier} > 0
 * @param scope "layer": each weight gets its own θ (and exactly round(s·n)
 *   zeros); "global": one θ over all weights together (exactly round(s·Σn)
 *   zeros in total; the std of all live weights for stdMultiplier)
 * @returns new mask tensors (owned by the caller) and the θ of each weight;
 *   a mask is never above `previous`
 * @example
 *   const { masks } = magnitudeMasks([{ name: "w", value: tf.tensor1d([0.1, -3, 0.2, 2]) }], { sparsity: 0.5 });
 *   masks.get("w")?.dataSync(); // [0, 1, 0, 1]
 */
export function magnitudeMasks(weights: readonly MaskInput[], target: MagnitudeTarget, scope: Scope = "layer"): MagnitudeMasks {
  const loaded: Loaded[] = weights.map((w) => ({ values: w.value.dataSync() as Float32Array, prev: w.previous?.dataSync() }));
  const groups = scope === "global" ? [weights.map((_, j) => j)] : weights.map((_, j) => [j]);
  const maskArrays: Float32Array[] = new Array(weights.length);
  const thetas: number[] = new Array(weights.length);
  for (const group of groups) {
    const members = group.map((j) => loaded[j]);
    let masks: Float32Array[];
    let theta: number;
    if ("sparsity" in target) {
      const n = members.reduce((s, w) => s + w.values.length, 0);
      ({ masks, theta } = pruneLowest(members, Math.round(target.sparsity * n)));
    } else {
      theta = "threshold" in target ? target.threshold : target.stdMultiplier * liveStd(members);
      masks = members.map((w) => aboveTheta(w, theta));
    }
    group.forEach((j, i) => {
      maskArrays[j] = masks[i];
      thetas[j] = theta;
    });
  }
  const out: MagnitudeMasks = { masks: new Map(), thresholds: new Map() };
  weights.forEach((w, j) => {
    out.masks.set(w.name, tf.tensor(maskArrays[j], w.value.shape, "float32"));
    out.thresholds.set(w.name, thetas[j]);
  });
  return out;
}
