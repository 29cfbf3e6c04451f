/**
 * The training loop distillation runs on. It follows toolkit/train.ts (the
 * same seeded batch order, a step boundary as the only place an interrupt
 * takes effect, the same BatchLogs/EpochLogs), but its loss sees more than
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
import { formatSeconds, nextTick, OPTIMIZER_NAMES, OPTIMIZERS, OptimizerName } from "../toolkit/pace";

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

/** Where an interrupted run stopped. */
export interface StopPoint {
  /** 0-based epoch during which the interrupt arrived. */
  epoch: number;
  /** Batches completed in that epoch (the next one was not started). */
  batch: number;
  /** Optimizer steps completed in the whole run. */
  step: number;
}

/** How one training run went. */
export interface LoopHistory {
  epochs: EpochLogs[];
  /** Optimizer steps applied. */
  steps: number;
  /** The abort signal stopped the run; the weights are those after step `steps`. */
  interrupted: boolean;
  /** Set when interrupted. */
  stoppedAt?: StopPoint;
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
  signal: AbortSignal;
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
 * @returns mean cross-entropy, accuracy and the exact number of errors
 * @example
 *   const s = await scoreLogits((x) => net.apply(x, { training: false }) as tf.Tensor, test, 512);
 */
export async function scoreLogits(logits: (x: tf.Tensor) => tf.Tensor, data: OneHotData, batchSize: number): Promise<Score> {
  const n = data.xs.shape[0];
  let sumLoss = 0;
  let correct = 0;
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const both = tf.tidy(() => {
      const xb = tf.slice(data.xs, start, size);
      const yb = tf.slice(data.ys, start, size);
      const z = logits(xb);
      const ce = tf.neg(tf.sum(tf.mul(yb, tf.logSoftmax(z))));
      const hits = tf.sum(tf.cast(tf.equal(tf.argMax(z, -1), tf.argMax(yb, -1)), "float32"));
      return tf.stack([ce, hits]);
    });
    const values = await both.data();
    both.dispose();
    sumLoss += values[0];
    correct += values[1];
  }
  return { loss: sumLoss / n, accuracy: correct / n, errors: n - correct, samples: n };
}



/** Copies of the model's weights (getWeights returns the live variables). */
function snapshot(model: tf.LayersModel): tf.Tensor[] {
  return tf.tidy(() => model.getWeights().map((w) => tf.clone(w)));
}

/** One optimizer step on the samples `idx`; returns the batch loss and accuracy before the step. */
async function step(model: tf.LayersModel, data: OneHotData, idx: number[], optimizer: tf.Optimizer, objective: Objective): Promise<[number, number]> {
  const [cost, acc] = tf.tidy(() => {
    const at = tf.tensor1d(idx, "int32");
    const xb = tf.gather(data.xs, at);
    const yb = tf.gather(data.ys, at) as tf.Tensor2D;
    const targets = objective.targets(at, xb);
    let accuracy: tf.Scalar | undefined;
    const c = optimizer.minimize(
      () => {
        const { loss, logits } = objective.loss(xb, yb, targets);
        // Accuracy of the same forward pass, kept so the gradient tidy spares it.
        accuracy = tf.keep(tf.mean(tf.cast(tf.equal(tf.argMax(logits, -1), tf.argMax(yb, -1)), "float32")) as tf.Scalar);
        return model.calculateLosses().reduce<tf.Scalar>((sum, r) => tf.add(sum, r), loss);
      },
      true,
      objective.vars
    ) as tf.Scalar;
    return [c, accuracy as tf.Scalar];
  });
  try {
    const [l, a] = await Promise.all([cost.data(), acc.data()]);
    return [l[0], a[0]];
  } finally {
    tf.dispose([cost, acc]);
  }
}

/**
 * Trains `model` in place on `objective` with seeded shuffled mini-batches;
 * a pruned model's masks are re-applied after every step.
 * The abort signal is checked before every batch: an interrupt ends the run
 * at a step boundary with the weights of the last completed step, the bar
 * ends "interrupted" and the history says where it stopped; nothing throws.
 * With `patience` (and validation data) the run stops after that many epochs
 * without a lower validation loss, and the model ends with the weights of
 * its best epoch (unless interrupted).
 *
 * @param model the model whose weights are trained (changed in place)
 * @param logits its logits function, for validation
 * @param data training samples with one-hot labels
 * @param objective the loss and variables
 * @param opts epochs, batch size, seed, optimizer, validation, signal, ...
 * @returns the run's history
 * @throws errors thrown by callbacks or tfjs (the bar ends "error"); never for an interrupt
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
  const history: LoopHistory = { epochs: [], steps: 0, interrupted: false, stoppedEarly: false, seconds: 0 };
  const start = Date.now();
  let best: { loss: number; epoch: number; weights: tf.Tensor[] } | undefined;
  let status = "";
  try {
    for (let epoch = 0; epoch < opts.epochs && !history.interrupted && !history.stoppedEarly; epoch++) {
      const order = shuffledIndices(n, rand);
      const t0 = Date.now();
      let sumLoss = 0;
      let sumAcc = 0;
      let seen = 0;
      let steps = 0;
      for (let b = 0; b < stepsPerEpoch; b++) {
        if (opts.signal.aborted) {
          history.interrupted = true;
          history.stoppedAt = { epoch, batch: b, step: history.steps };
          break;
        }
        const idx = order.slice(b * opts.batchSize, (b + 1) * opts.batchSize);
        const [lossValue, accValue] = await step(model, data, idx, optimizer, objective);
        // A pruned student stays pruned: its masks hold after every step, as in toolkit/train.ts.
        reapplyMasks(model);
        history.steps++;
        steps++;
        seen += idx.length;
        sumLoss += lossValue * idx.length;
        sumAcc += accValue * idx.length;
        const logs: BatchLogs = { epoch, batch: b, size: idx.length, loss: lossValue, acc: accValue };
        if ((await opts.callbacks?.onBatchEnd?.(history.steps, logs)) === "stop") history.stoppedEarly = true;
        const elapsed = (Date.now() - start) / 1000;
        const rate = (history.steps * opts.batchSize) / Math.max(elapsed, 1e-3);
        const eta = ((total - history.steps) * elapsed) / history.steps;
        status = `epoch ${epoch + 1}/${opts.epochs} step ${b + 1}/${stepsPerEpoch} loss ${(sumLoss / seen).toFixed(4)} acc ${(sumAcc / seen).toFixed(4)} ${Math.round(rate)} samples/s ETA ${formatSeconds(eta)}`;
        bar?.update(history.steps, status);
        if (history.stoppedEarly) break;
        await nextTick();
      }
      if (steps === 0) break;
      const complete = steps === stepsPerEpoch;
      const logs: EpochLogs = { epoch, loss: sumLoss / seen, acc: sumAcc / seen, steps, samples: seen, seconds: (Date.now() - t0) / 1000, complete };
      if (complete && opts.validation !== undefined && !opts.signal.aborted) {
        const v = await scoreLogits(logits, opts.validation, Math.max(opts.batchSize, 256));
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
    if (best !== undefined && !history.interrupted) {
      model.setWeights(best.weights);
      history.bestEpoch = best.epoch;
    }
  } catch (e) {
    bar?.end("error", e instanceof Error ? e.message : String(e));
    throw e;
  } finally {
    if (best !== undefined) tf.dispose(best.weights);
    optimizer.dispose();
    history.seconds = (Date.now() - start) / 1000;
  }
  const where = history.stoppedAt ? `stopped at epoch ${history.stoppedAt.epoch + 1} step ${history.stoppedAt.batch}/${stepsPerEpoch}` : `${history.steps} steps`;
  bar?.end(history.interrupted ? "interrupted" : "done", `${where} ${status}`);
  return history;
}
