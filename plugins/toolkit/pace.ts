/**
 * What every long training loop in slimlab shares: the optimizers it builds
 * by name, a yield to the event loop between batches (so an interrupt
 * request gets handled), and the ETA text of its progress bar.
 */
import * as tf from "@tensorflow/tfjs";

export type OptimizerName = "sgd" | "adam" | "rmsprop" | "adagrad";

/** Each optimizer by name, with the default rate Keras uses for it. */
export const OPTIMIZERS: Readonly<Record<OptimizerName, (lr?: number) => tf.Optimizer>> = {
  sgd: (lr) => tf.train.sgd(lr ?? 0.01),
  adam: (lr) => tf.train.adam(lr ?? 0.001),
  rmsprop: (lr) => tf.train.rmsprop(lr ?? 0.001),
  adagrad: (lr) => tf.train.adagrad(lr ?? 0.01),
};

/** The optimizer names the loops accept. */
export const OPTIMIZER_NAMES = Object.keys(OPTIMIZERS) as OptimizerName[];

/** Lets pending events (an interrupt request) run between batches. */
export function nextTick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** "1m05s" or "42s" for a progress bar's ETA; "?" when unknown. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${Math.round(s)}s`;
}
