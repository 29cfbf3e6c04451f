/**
 * The weights of a model as they are now, to put back bit for bit if an
 * in-place operation fails (or is interrupted) half way. Every `--inplace`
 * magic takes one before its first write.
 */
import * as tf from "@tensorflow/tfjs";

/** A model's weights at one moment; call exactly one of restore and discard. */
export interface WeightSnapshot {
  /** Writes the saved values back into the same variables and frees the snapshot. */
  restore(): void;
  /** Frees the snapshot (the operation succeeded). */
  discard(): void;
}

/**
 * Takes a snapshot of every weight of `model`. tf.clone shares the data
 * (refcounted), so this copies nothing: a later write to a variable gives
 * it new data and leaves the snapshot's alone. Restoring assigns the saved
 * tensors to the variables directly, bypassing weight constraints, so the
 * values come back exactly.
 *
 * @param model a built tf.LayersModel
 * @returns restore() / discard(); further calls after the first do nothing
 * @example
 *   const saved = weightSnapshot(model);
 *   try { await change(model); saved.discard(); } catch (e) { saved.restore(); throw e; }
 */
export function weightSnapshot(model: tf.LayersModel): WeightSnapshot {
  const variables = model.weights.map((w) => w.read() as tf.Variable);
  const values = variables.map((v) => tf.clone(v));
  let done = false;
  const free = () => {
    done = true;
    tf.dispose(values);
  };
  return {
    restore() {
      if (done) return;
      try {
        variables.forEach((v, i) => {
          if (!v.isDisposed) v.assign(values[i]);
        });
      } finally {
        free();
      }
    },
    discard() {
      if (!done) free();
    },
  };
}
