/**
 * Structured pruning: rank a layer's units (conv filters, Dense units) by
 * the L1 or L2 norm of their kernel slice (seeds/002 §3.2.1: importance by
 * L1/L2) and remove the weakest, K per layer with N' = max(1, N − K)
 * (seeds/000 §4.2) or a fraction s of them.
 *
 * Pure: kernels in, unit indices out. unit-masks.ts turns the choice into
 * masks; strip.ts into a smaller model.
 */
import * as tf from "@tensorflow/tfjs";
import { loneGroup, weakestChannels } from "./groups";

export type Criterion = "l1" | "l2";

/** How many units to remove per layer. */
export type UnitTarget = { remove: number } | { sparsity: number };

/**
 * The norm of each unit's kernel slice (the kernel's last axis indexes units).
 *
 * @param kernel e.g. Dense [in, out] or Conv2D [kh, kw, in, out]
 * @param criterion "l1" (Σ|w|) or "l2" (√Σw²)
 * @returns one score per unit
 * @example
 *   unitScores(tf.tensor2d([[1, -2], [3, 0]]), "l1"); // [4, 2]
 */
export function unitScores(kernel: tf.Tensor, criterion: Criterion): Float32Array {
  return tf.tidy(() => {
    const units = kernel.shape[kernel.rank - 1];
    const rows = tf.reshape(kernel, [-1, units]);
    const s = criterion === "l1" ? tf.sum(tf.abs(rows), 0) : tf.sqrt(tf.sum(tf.square(rows), 0));
    return s.dataSync() as Float32Array;
  });
}

/**
 * Number of units to remove from a layer of `n` units: min(K, n − 1) for
 * {remove: K}, so that N' = max(1, N − K); min(round(s·n), n − 1) for
 * {sparsity: s}.
 *
 * @param n units in the layer
 * @param target {remove} or {sparsity}
 * @returns how many units to remove
 * @example
 *   unitsToRemove(4, { remove: 9 }); // 3: one unit always survives
 */
export function unitsToRemove(n: number, target: UnitTarget): number {
  const want = "remove" in target ? target.remove : Math.round(target.sparsity * n);
  return Math.max(0, Math.min(want, n - 1));
}

/**
 * The units of one layer to remove: the `count` lowest scores, units
 * already removed counted first (they are never revived), ties broken
 * towards the lower index, one unit always left. The one-layer case of
 * groups.ts's weakestChannels.
 *
 * @param scores one score per unit
 * @param count how many to remove in total
 * @param already units removed before
 * @returns removed unit indices, ascending (at least `already`)
 * @example
 *   weakestUnits(Float32Array.from([5, 1, 3, 1]), 2, []); // [1, 3]
 */
export function weakestUnits(scores: Float32Array, count: number, already: readonly number[]): number[] {
  return weakestChannels(loneGroup("", scores.length), scores, count, already);
}
