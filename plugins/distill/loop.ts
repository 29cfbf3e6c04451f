/**
 * The training loop distillation runs on. It follows toolkit/train.ts (the
 * same seeded batch order, a step boundary as the only place an interrupt
 * takes effect and E_INTERRUPTED there, the same BatchLogs/EpochLogs), but its loss sees more than
 * (labels, predictions): the teacher's outputs for the very samples of the
 * batch, which train.ts's loss function cannot be given. The hard-label
 * baseline runs through the same loop with α = 0, so both students get the
 * same budget, batch order and optimizer.
 */
import * as tf from "@tensorflow/tfjs";
import { host, Progress } from "../core/host";
import { reapplyMasks } from "../toolkit/masks";
import { mulberry32, shuffledIndices } from "../toolkit/shuffle";
import type { BatchLogs, CallbackResult, EpochLogs } from "../toolkit/train";
import { checkpoint, formatSeconds, gradientStepTensors, isInterrupt, logDue, nextTick, OPTIMIZER_NAMES, OPTIMIZERS, OptimizerName, replayBatchEnds, StepLog, stopIfInterrupted } from "../toolkit/pace";

/** Samples with one-hot float32 labels [N, C], as the loop uses them. */
export interface OneHotData {
  xs: tf.Tensor;
  ys: tf.Tensor2D;
}

/** What is being minimised, batch by batch. */
export interface Objective {
  /** Everything the optimizer updates (the student's weights, a hint projection). */
  vars: tf.Variable[];
  /** The teacher's outputs for the batch, computed outside the gradient tape; [] when none are needed. */
  targets(idx: tf.Tensor1D, xb: tf.Tensor): tf.Tensor[];
  /** The loss (without regularisers) and the student's logits, inside the gradient tape. */
  loss(xb: tf.Tensor, yb: tf.Tensor2D, targets: tf.Tensor[]): { loss: tf.Scalar; logits: tf.Tensor };
}

/** Callbacks of a distillation run (return "stop" to end it early). */
export interface DistillCallbacks {
  /** After each optimizer step; `step` counts from 1 over the run. */
  onBatchEnd?(step: number, logs: BatchLogs): CallbackResult | Promise<CallbackResult>;
  /** After each complete epoch and its validation. */
  onEpochEnd?(epoch: number, logs: EpochLogs): CallbackResult | Promise<CallbackResult>;
}

/** How one training run went. */
export interface LoopHistory {
  epochs: EpochLogs[];
  /** Optimizer steps applied. */
  steps: number;
  /** Early stopping (patience) or a callback ended the run before its last epoch. */
  stoppedEarly: boolean;
  /** With patience: the 0-based epoch whose weights the model ends with. */
  bestEpoch?: number;
  seconds: number;
}

export interface LoopOptions {
  /** Progress bar title. */
  label: string;
  epochs: number;
  batchSize: number;
  seed: number;
  optimizer: OptimizerName;
  lr?: number;
  /** Stop after this many epochs without a lower validation loss and restore the best epoch's weights. */
  patience?: number;
  validation?: OneHotData;
  /** Checked before every batch: an abort ends the run with E_INTERRUPTED. */
  signal: AbortSignal;
  /** For the E_INTERRUPTED message: what an interrupt leaves behind. */
  leaves: string;
  callbacks?: DistillCallbacks;
  progress: boolean;
  /** Called after each epoch with the history so far (live charts). */
  onHistory?(history: LoopHistory): void;
}

/** Accuracy, loss and error count of logits against one-hot labels. */
export interface Score {
  /** Mean cross-entropy CE(y, softmax(z)). */
  loss: number;
  accuracy: number;
  /** Misclassified samples (argmax of the logits ≠ label). */
  errors: number;
  samples: number;
}


export { OPTIMIZER_NAMES };

/**
 * Scores a logits function on labelled data in inference mode, in batches.
 *
 * @param logits maps a batch of inputs to logits [B, C] (called inside tf.tidy)
 * @param data samples with one-hot labels
 * @param batchSize samples per forward pass
 * @param stop checked before every batch: the signal and what an interrupt leaves (for the E_INTERRUPTED message)
 * @returns mean cross-entropy, accuracy and the exact number of errors
 * @throws SlimlabError E_INTERRUPTED when `stop.signal` is aborted
 * @example
 *   const s = await scoreLogits((x) => net.apply(x, { training: false }) as tf.Tensor, test, 512);
 */
export async function scoreLogits(logits: (x: tf.Tensor) => tf.Tensor, data: OneHotData, batchSize: number, stop?: { signal: AbortSignal; leaves: string }): Promise<Score> {
  const n = data.xs.shape[0];
  let sumLoss = 0;
  let correct = 0;
  for (let start = 0; start < n; start += batchSize) {
    await checkpoint(stop?.signal, () => `distill: interrupted by the user while scoring ${start} of ${n} samples; ${stop?.leaves}`);
    const size = Math.min(batchSize, n - start);
    const both = tf.tidy(() => {
      const xb = tf.slice(data.xs, start, size);
      const yb = tf.slice(data.ys, start, size);
      const z = logits(xb);
      const ce = tf.neg(tf.sum(tf.mul(yb, tf.logSoftmax(z))));
      const hits = tf.sum(tf.cast(tf.equal(tf.argMax(z, -1), tf.argMax(yb, -1)), "float32"));
      return tf.stack([ce, hits]);
    });
    let values: Float32Array | Int32Array | Uint8Array;
    try {
      values = await both.data();
    } finally {
      both.dispose();
    }
    sumLoss += values[0];
    correct += values[1];
  }
  return { loss: sumLoss / n, accuracy: correct / n, errors: n - correct, samples: n };
}



/** Copies of the model's weights (getWeights returns the live variables). */
function snapshot(model: tf.LayersModel): tf.Tensor[] {
  return tf.tidy(() => model.getWeights().map((w) => tf.clone(w)));
}

/** One optimizer step on the samples `idx`; returns the batch loss and accuracy before the step, still on the backend. */
function step(model: tf.LayersModel, data: OneHotData, idx: number[], optimizer: tf.Optimizer, objective: Objective): [tf.Scalar, tf.Scalar] {
  return gradientStepTensors(model, optimizer, objective.vars, () => {
    const at = tf.tensor1d(idx, "int32");
    const xb = tf.gather(data.xs, at);
    const yb = tf.gather(data.ys, at) as tf.Tensor2D;
    const targets = objective.targets(at, xb);
    return () => {
      const { loss, logits } = objective.loss(xb, yb, targets);
      return { loss, accuracy: tf.mean(tf.cast(tf.equal(tf.argMax(logits, -1), tf.argMax(yb, -1)), "float32")) as tf.Scalar };
    };
  });
}

/**
 * Trains `model` in place on `objective` with seeded shuffled mini-batches;
 * a pruned model's masks are re-applied after every step.
 * The abort signal is checked before every batch: an interrupt ends the run
 * at a step boundary with SlimlabError E_INTERRUPTED (the model has the
 * weights of the last completed step; the bar ends "interrupted").
 * With `patience` (and validation data) the run stops after that many epochs
 * without a lower validation loss, and the model ends with the weights of
 * its best epoch.
 *
 * @param model the model whose weights are trained (changed in place)
 * @param logits its logits function, for validation
 * @param data training samples with one-hot labels
 * @param objective the loss and variables
 * @param opts epochs, batch size, seed, optimizer, validation, signal, ...
 * @returns the run's history
 * @throws SlimlabError E_INTERRUPTED when the signal is aborted; errors
 *   thrown by callbacks or tfjs (the bar ends "error")
 * @example
 *   const h = await runLoop(student, (x) => net.apply(x) as tf.Tensor, data, objective, opts);
 */
export async function runLoop(
  model: tf.LayersModel,
  logits: (x: tf.Tensor) => tf.Tensor,
  data: OneHotData,
  objective: Objective,
  opts: LoopOptions
): Promise<LoopHistory> {
  const n = data.xs.shape[0];
  const stepsPerEpoch = Math.ceil(n / opts.batchSize);
  const total = opts.epochs * stepsPerEpoch;
  const bar: Progress | undefined = opts.progress ? host().progress(opts.label, total) : undefined;
  const optimizer = OPTIMIZERS[opts.optimizer](opts.lr);
  const rand = mulberry32(opts.seed);
  const history: LoopHistory = { epochs: [], steps: 0, stoppedEarly: false, seconds: 0 };
  const start = Date.now();
  let best: { loss: number; epoch: number; weights: tf.Tensor[] } | undefined;
  let status = "";
  // Loss and accuracy stay on the backend between logging intervals (every step only for onBatchEnd).
  const log = new StepLog();
  const everyStep = opts.callbacks?.onBatchEnd !== undefined;
  try {
    for (let epoch = 0; epoch < opts.epochs && !history.stoppedEarly; epoch++) {
      const order = shuffledIndices(n, rand);
      const t0 = Date.now();
      log.resetSums();
      let steps = 0;
      for (let b = 0; b < stepsPerEpoch; b++) {
        stopIfInterrupted(opts.signal, () => `distill: interrupted by the user after ${history.steps} of ${total} steps (epoch ${epoch + 1}/${opts.epochs}, batch ${b + 1}/${stepsPerEpoch}) of "${opts.label}"; ${opts.leaves}`);
        const idx = order.slice(b * opts.batchSize, (b + 1) * opts.batchSize);
        log.push(...step(model, data, idx, optimizer, objective), idx.length);
        // A pruned student stays pruned: its masks hold after every step, as in toolkit/train.ts.
        reapplyMasks(model);
        history.steps++;
        steps++;
        if (b + 1 === stepsPerEpoch || logDue(log, everyStep)) {
          const read = await log.flush();
          if (await replayBatchEnds(read, epoch, b, history.steps, opts.callbacks?.onBatchEnd)) history.stoppedEarly = true;
          const elapsed = (Date.now() - start) / 1000;
          const rate = (history.steps * opts.batchSize) / Math.max(elapsed, 1e-3);
          const eta = ((total - history.steps) * elapsed) / history.steps;
          status = `epoch ${epoch + 1}/${opts.epochs} step ${b + 1}/${stepsPerEpoch} loss ${(log.sumLoss / log.seen).toFixed(4)} acc ${(log.sumAcc / log.seen).toFixed(4)} ${Math.round(rate)} samples/s ETA ${formatSeconds(eta)}`;
          bar?.update(history.steps, status);
        }
        if (history.stoppedEarly) break;
        await nextTick();
      }
      if (steps === 0) break;
      const complete = steps === stepsPerEpoch;
      const logs: EpochLogs = { epoch, loss: log.sumLoss / log.seen, acc: log.sumAcc / log.seen, steps, samples: log.seen, seconds: (Date.now() - t0) / 1000, complete };
      if (complete && opts.validation !== undefined) {
        const v = await scoreLogits(logits, opts.validation, Math.max(opts.batchSize, 256), opts);
        logs.valLoss = v.loss;
        logs.valAcc = v.accuracy;
      }
      history.epochs.push(logs);
      if (complete && opts.patience !== undefined && logs.valLoss !== undefined) {
        if (best === undefined || logs.valLoss < best.loss) {
          if (best !== undefined) tf.dispose(best.weights);
          best = { loss: logs.valLoss, epoch, weights: snapshot(model) };
        } else if (epoch - best.epoch >= opts.patience) {
          history.stoppedEarly = true;
        }
      }
      opts.onHistory?.(history);
      if (complete && (await opts.callbacks?.onEpochEnd?.(epoch, logs)) === "stop") history.stoppedEarly = true;
    }
    if (best !== undefined) {
      model.setWeights(best.weights);
      history.bestEpoch = best.epoch;
    }
  } catch (e) {
    if (isInterrupt(e)) bar?.end("interrupted", `stopped after ${history.steps} steps ${status}`);
    else bar?.end("error", e instanceof Error ? e.message : String(e));
    throw e;
  } finally {
    log.dispose();
    if (best !== undefined) tf.dispose(best.weights);
    optimizer.dispose();
    history.seconds = (Date.now() - start) / 1000;
  }
  bar?.end("done", `${history.steps} steps ${status}`);
  return history;
}
