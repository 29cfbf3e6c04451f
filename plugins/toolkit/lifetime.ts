/**
 * Things slimlab keeps for a model outside the model (pruning masks in a
 * side table, the optimizer a copy was compiled with) must be released when
 * the model is. tfjs tensors hold backend memory that garbage collection
 * never frees, so a WeakMap entry dropping with its model is not enough:
 * each holder registers a cleanup here, and `model.dispose()` runs them.
 *
 * The only change to the model object is one wrapper around its own
 * `dispose`, installed the first time a cleanup is registered; the cleanups
 * themselves live in a side table keyed by model.
 */
import * as tf from "@tensorflow/tfjs";

type Cleanups = Map<string, () => void>;

/** Shared through globalThis, like the mask table, so a second copy of this file sees the same entries. */
const SLOT = Symbol.for("slimlab.toolkit.lifetime");
const TABLE: WeakMap<tf.LayersModel, Cleanups> = ((globalThis as { [SLOT]?: WeakMap<tf.LayersModel, Cleanups> })[SLOT] ??= new WeakMap());

/** Runs and forgets every cleanup of `model`; one failing does not stop the others (the first error is rethrown). */
function runCleanups(model: tf.LayersModel): void {
  const cleanups = TABLE.get(model);
  if (cleanups === undefined) return;
  TABLE.delete(model);
  let first: unknown;
  for (const fn of cleanups.values()) {
    try {
      fn();
    } catch (e) {
      first ??= e;
    }
  }
  if (first !== undefined) throw first;
}

/**
 * Registers `fn` to run when `model.dispose()` releases the model (after
 * tfjs has disposed its layers; a model nested in another one is released
 * with the last of them). A second registration under the same key
 * replaces the first.
 *
 * @param model the model whose lifetime `fn` is tied to
 * @param key who registers ("masks", "optimizer"); one cleanup per key
 * @param fn releases what the holder keeps for `model`
 * @example
 *   onDispose(copy, "optimizer", () => optimizer.dispose());
 */
export function onDispose(model: tf.LayersModel, key: string, fn: () => void): void {
  let cleanups = TABLE.get(model);
  if (cleanups === undefined) {
    cleanups = new Map();
    TABLE.set(model, cleanups);
    wrapDispose(model);
  }
  cleanups.set(key, fn);
}

/**
 * Drops the cleanup registered under `key` without running it (the holder
 * released its resources itself).
 *
 * @param model the model
 * @param key as given to onDispose
 * @example
 *   forgetDispose(model, "masks");
 */
export function forgetDispose(model: tf.LayersModel, key: string): void {
  TABLE.get(model)?.delete(key);
}

/** Models whose dispose is already wrapped (a model is wrapped at most once). */
const WRAPPED_SLOT = Symbol.for("slimlab.toolkit.lifetime.wrapped");
const WRAPPED: WeakSet<tf.LayersModel> = ((globalThis as { [WRAPPED_SLOT]?: WeakSet<tf.LayersModel> })[WRAPPED_SLOT] ??= new WeakSet());

function wrapDispose(model: tf.LayersModel): void {
  if (WRAPPED.has(model)) return;
  WRAPPED.add(model);
  const original = model.dispose;
  Object.defineProperty(model, "dispose", {
    configurable: true,
    enumerable: false,
    writable: true,
    value: function dispose(): ReturnType<tf.LayersModel["dispose"]> {
      const result = original.call(model);
      // A model used as a layer of another one is only released with the last of them.
      if (result.refCountAfterDispose === 0) runCleanups(model);
      return result;
    },
  });
}
