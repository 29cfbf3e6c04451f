/**
 * What every long loop in slimlab shares: the optimizers it builds by name,
 * a yield to the event loop between steps (an interrupt request only
 * reaches the abort signal then), the check that turns an aborted signal
 * into SlimlabError E_INTERRUPTED, and the ETA text of its progress bar.
 */
import * as tf from "@tensorflow/tfjs";
import { isSlimlabError, SlimlabError } from "../core/errors";

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

/**
 * Who runs a loop, for its E_INTERRUPTED message: the public function's
 * name ("prune") and what an interrupt leaves behind ("the model got its
 * weights back; run the cell again to prune").
 */
export interface Caller {
  fn: string;
  leaves: string;
}

/**
 * Stops a loop the user interrupted: throws SlimlabError E_INTERRUPTED when
 * `signal` is aborted, with a one-line message built only then.
 *
 * @param signal the run's abort signal (host().signal() by default in every loop)
 * @param message `fn: interrupted by the user <where>; <what is left>`, e.g.
 *   () => `bench: interrupted by the user after 3 of 20 samples; nothing was measured, run the cell again`
 * @throws SlimlabError E_INTERRUPTED when aborted
 * @example
 *   for (const b of batches) { stopIfInterrupted(signal, () => `evaluateModel: interrupted by the user after ${i} batches; ...`); ... }
 */
export function stopIfInterrupted(signal: AbortSignal | undefined, message: () => string): void {
  if (signal?.aborted) throw new SlimlabError("E_INTERRUPTED", message());
}

/**
 * A step boundary of a long loop: lets pending events run (an interrupt
 * request only reaches the signal then), then stops if the user interrupted.
 *
 * @param signal the run's abort signal
 * @param message the E_INTERRUPTED message (see stopIfInterrupted)
 * @throws SlimlabError E_INTERRUPTED when aborted
 * @example
 *   await checkpoint(signal, () => `quantize: interrupted by the user at weight ${name}; the model is unchanged, run the cell again`);
 */
export async function checkpoint(signal: AbortSignal | undefined, message: () => string): Promise<void> {
  await nextTick();
  stopIfInterrupted(signal, message);
}

/** True when `e` is the error an interrupted loop throws. */
export function isInterrupt(e: unknown): boolean {
  return isSlimlabError(e) && e.code === "E_INTERRUPTED";
}

/** The part of tfjs's engine state a failed gradient step leaves behind. */
interface TapeState {
  gradientDepth: number;
  activeTape: { saved?: tf.Tensor[] }[] | null;
}

/**
 * Frees what tfjs's gradient tape kept when a training step failed half way
 * (a forward pass that throws on data of the wrong shape, a missing gradient
 * kernel). tfjs keeps a clone of every tensor a gradient will need and frees
 * them only at the end of a successful backward pass; when the step throws
 * first, they stay allocated for good (about 20 tensors per failed step of
 * a small MLP). Call it in the step's catch; it does nothing while a
 * gradient is still being computed (nested) or when nothing was recorded.
 *
 * @example
 *   try { optimizer.minimize(f); } catch (e) { releaseTape(); throw e; }
 */
export function releaseTape(): void {
  const state = tf.engine().state as unknown as TapeState;
  if (state.gradientDepth !== 0 || !Array.isArray(state.activeTape)) return;
  for (const node of state.activeTape) tf.dispose(node.saved ?? []);
  state.activeTape = null;
}

/** What the forward pass of one training step gives back: the loss to minimize and the batch's accuracy. */
export interface StepForward {
  loss: tf.Scalar;
  accuracy: tf.Scalar;
}

/**
 * One optimizer step of a training loop (train(), distillation): `batch`
 * runs inside a tidy (gather the batch there) and returns the forward pass,
 * which runs under the optimizer's tape; the model's regularisation losses
 * are added to its loss. A step that throws leaves neither the tape's
 * tensors nor the accuracy behind.
 *
 * @returns the batch's loss and accuracy, read before the weights moved
 * @example
 *   const [loss, acc] = await gradientStep(model, opt, model.trainableWeights.map((w) => w.read() as tf.Variable),
 *     () => { const xb = ..., yb = ...; return () => ({ loss: lossOf(xb, yb), accuracy: accOf(xb, yb) }); });
 */
export async function gradientStep(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  vars: tf.Variable[],
  batch: () => () => StepForward
): Promise<[number, number]> {
  let accuracy: tf.Scalar | undefined;
  let cost: tf.Scalar;
  try {
    cost = tf.tidy(() => {
      const forward = batch();
      return optimizer.minimize(
        () => {
          const f = forward();
          // The accuracy of the same forward pass, kept so the gradient tidy spares it.
          accuracy = tf.keep(f.accuracy);
          return model.calculateLosses().reduce<tf.Scalar>((sum, r) => tf.add(sum, r), f.loss);
        },
        true,
        vars
      ) as tf.Scalar;
    });
  } catch (e) {
    releaseTape();
    accuracy?.dispose();
    throw e;
  }
  const acc = accuracy as tf.Scalar;
  try {
    const [l, a] = await Promise.all([cost.data(), acc.data()]);
    return [l[0], a[0]];
  } finally {
    tf.dispose([cost, acc]);
  }
}
