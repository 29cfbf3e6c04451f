/**
 * What every long loop in slimlab shares: the optimizers it builds by name,
 * a yield to the event loop between steps (an interrupt request only
 * reaches the abort signal then), the check that turns an aborted signal
 * into SlimlabError E_INTERRUPTED, and the ETA text of its progress bar.
 */
import * as tf from "@tensorflow/tfjs";
import { isSlimlabError, SlimlabError } from "../core/errors";

/** "momentum" is SGD with momentum 0.9 (Keras' SGD(momentum=0.9), PyTorch's SGD(momentum=0.9), Caffe's solvers). */
export type OptimizerName = "sgd" | "momentum" | "adam" | "rmsprop" | "adagrad";

/** The learning rate each named optimizer gets when none is given: Keras' default for it. */
export const DEFAULT_LR: Readonly<Record<OptimizerName, number>> = { sgd: 0.01, momentum: 0.01, adam: 0.001, rmsprop: 0.001, adagrad: 0.01 };

/** Each optimizer by name, at `lr` or its default rate. */
export const OPTIMIZERS: Readonly<Record<OptimizerName, (lr?: number) => tf.Optimizer>> = {
  sgd: (lr) => tf.train.sgd(lr ?? DEFAULT_LR.sgd),
  momentum: (lr) => tf.train.momentum(lr ?? DEFAULT_LR.momentum, 0.9),
  adam: (lr) => tf.train.adam(lr ?? DEFAULT_LR.adam),
  rmsprop: (lr) => tf.train.rmsprop(lr ?? DEFAULT_LR.rmsprop),
  adagrad: (lr) => tf.train.adagrad(lr ?? DEFAULT_LR.adagrad),
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
  const whole = Math.round(s); // round first: 119.7 s is 2m00s, not 1m60s
  const m = Math.floor(whole / 60);
  return m > 0 ? `${m}m${String(whole % 60).padStart(2, "0")}s` : `${whole}s`;
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
 * tensors nor the accuracy behind. Nothing is read back to the host: the
 * loss and accuracy stay on the backend until a {@link StepLog} reads them.
 *
 * @returns the batch's loss and accuracy as scalars computed before the
 *   weights moved (the caller disposes them, e.g. through a StepLog)
 * @example
 *   const [loss, acc] = gradientStepTensors(model, opt, model.trainableWeights.map((w) => w.read() as tf.Variable),
 *     () => { const xb = ..., yb = ...; return () => ({ loss: lossOf(xb, yb), accuracy: accOf(xb, yb) }); });
 */
export function gradientStepTensors(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  vars: tf.Variable[],
  batch: () => () => StepForward
): [tf.Scalar, tf.Scalar] {
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
  return [cost, accuracy as tf.Scalar];
}

/**
 * {@link gradientStepTensors}, with the loss and accuracy read at once.
 *
 * @returns the batch's loss and accuracy, read before the weights moved
 */
export async function gradientStep(
  model: tf.LayersModel,
  optimizer: tf.Optimizer,
  vars: tf.Variable[],
  batch: () => () => StepForward
): Promise<[number, number]> {
  const log = new StepLog();
  try {
    log.push(...gradientStepTensors(model, optimizer, vars, batch), 1);
    const [only] = await log.flush();
    return [only.loss, only.acc];
  } finally {
    log.dispose();
  }
}

/** One step's loss and accuracy as read back, and its batch size. */
export interface StepValues {
  loss: number;
  acc: number;
  size: number;
}

/**
 * The loss and accuracy of the steps since the last read, kept on the
 * backend, so a training loop reads them once per logging interval instead
 * of once per step. A read fetches every pending value in one transfer and
 * adds them to running sums in step order, in float64 on the host, exactly
 * as reading after every step would.
 */
export class StepLog {
  private pending: { loss: tf.Scalar; acc: tf.Scalar; size: number }[] = [];
  /** Σ loss·size and Σ acc·size over the steps read so far. */
  sumLoss = 0;
  sumAcc = 0;
  /** Samples over the steps read so far. */
  seen = 0;
  /** Steps not read yet. */
  get unread(): number {
    return this.pending.length;
  }

  /** Keeps a step's scalars (they are disposed by the next read or by dispose()). */
  push(loss: tf.Scalar, acc: tf.Scalar, size: number): void {
    this.pending.push({ loss, acc, size });
  }

  /**
   * Reads the pending steps (one transfer), adds them to the sums, frees them.
   *
   * @returns each pending step's values, oldest first
   */
  async flush(): Promise<StepValues[]> {
    const steps = this.pending;
    this.pending = [];
    if (steps.length === 0) return [];
    let values: Float32Array | Int32Array | Uint8Array;
    const both = tf.tidy(() => tf.stack(steps.flatMap((s) => [s.loss, s.acc])));
    try {
      values = await both.data();
    } finally {
      both.dispose();
      tf.dispose(steps.flatMap((s) => [s.loss, s.acc]));
    }
    const out = steps.map((s, i) => ({ loss: values[2 * i], acc: values[2 * i + 1], size: s.size }));
    for (const v of out) {
      this.sumLoss += v.loss * v.size;
      this.sumAcc += v.acc * v.size;
      this.seen += v.size;
    }
    return out;
  }

  /** Starts new sums (a new epoch); pending steps stay pending. */
  resetSums(): void {
    this.sumLoss = 0;
    this.sumAcc = 0;
    this.seen = 0;
  }

  /** Frees the pending scalars without reading them. */
  dispose(): void {
    tf.dispose(this.pending.flatMap((s) => [s.loss, s.acc]));
    this.pending = [];
  }
}

/**
 * Steps between reads of loss and accuracy (and progress bar updates) when
 * nothing needs every step's values; a read also ends every epoch. A step
 * count, not a time, so that runs log at the same steps on any machine.
 */
export const LOG_EVERY = 10;

/** True when a loop should read its StepLog now: every step for an onBatchEnd callback, otherwise every LOG_EVERY steps. */
export function logDue(log: StepLog, everyStep: boolean): boolean {
  return everyStep || log.unread >= LOG_EVERY;
}

/** What a replayed onBatchEnd call is given (toolkit/train.ts BatchLogs). */
export interface ReplayedBatch {
  epoch: number;
  batch: number;
  size: number;
  loss: number;
  acc: number;
}

/**
 * Calls `onBatchEnd` once for each step a StepLog read just returned, in
 * step order, with the step number and batch index each had: what calling
 * it after every step would have given.
 *
 * @param read the values StepLog.flush() returned (oldest first)
 * @param epoch the epoch of the steps
 * @param batch the batch index of the last step read
 * @param steps the step count after the last step read
 * @param onBatchEnd the callback (nothing happens without one)
 * @returns true when a call answered "stop"
 * @example
 *   if (await replayBatchEnds(await log.flush(), epoch, b, history.steps, callbacks?.onBatchEnd)) history.stoppedEarly = true;
 */
export async function replayBatchEnds(read: readonly StepValues[], epoch: number, batch: number, steps: number, onBatchEnd?: (step: number, logs: ReplayedBatch) => unknown): Promise<boolean> {
  let stop = false;
  for (let k = 0; k < read.length && onBatchEnd !== undefined; k++) {
    const back = read.length - 1 - k;
    const v = read[k];
    if ((await onBatchEnd(steps - back, { epoch, batch: batch - back, size: v.size, loss: v.loss, acc: v.acc })) === "stop") stop = true;
  }
  return stop;
}
