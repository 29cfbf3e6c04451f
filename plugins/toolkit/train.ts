/**
 * A small training loop for fine-tuning compressed models: seeded, stoppable
 * between batches, with a hook after every optimizer step. A pruned model's
 * masks are re-applied right after each step, before that hook (masks.ts),
 * so pruned weights stay exactly zero through any fine-tuning run on it
 * (QAT and centroid fine-tuning included).
 * model.fit has no such hook and shuffles with Math.random, so its runs
 * cannot be repeated bit for bit.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show, suggestion } from "../core/errors";
import { host, Progress } from "../core/host";
import { requireModel } from "./layers";
import { reapplyMasks } from "./masks";
import { LossSpec, ResolvedLoss, batchAccuracy, resolveLoss } from "./losses";
import { mulberry32, shuffledIndices } from "./shuffle";
import { Caller, checkpoint, formatSeconds, gradientStepTensors, isInterrupt, logDue, nextTick, OPTIMIZERS, OptimizerName, replayBatchEnds, StepLog, stopIfInterrupted } from "./pace";

/** Inputs and labels, first axis = samples. */
export interface TrainData {
  xs: tf.Tensor;
  ys: tf.Tensor;
}

/** Reported after each optimizer step. */
export interface BatchLogs {
  /** 0-based epoch. */
  epoch: number;
  /** 0-based batch within the epoch. */
  batch: number;
  /** Samples in this batch. */
  size: number;
  /** Loss of this batch before the step (data loss + regularisers). */
  loss: number;
  /** Accuracy of this batch before the step; NaN when the loss has none. */
  acc: number;
}

/** One epoch's averages (weighted by batch size). */
export interface EpochLogs {
  epoch: number;
  loss: number;
  /** NaN when the loss has no accuracy (regression). */
  acc: number;
  valLoss?: number;
  valAcc?: number;
  steps: number;
  samples: number;
  seconds: number;
  /** False for the last epoch of a run a callback stopped. */
  complete: boolean;
}

/** Return "stop" from a callback to end training early (the history says stoppedEarly). */
export type CallbackResult = void | "stop";

export interface TrainCallbacks {
  /** After each step; `step` counts steps from 1 over the whole run. */
  onBatchEnd?(step: number, logs: BatchLogs): CallbackResult | Promise<CallbackResult>;
  /** After each complete epoch (and its validation). */
  onEpochEnd?(epoch: number, logs: EpochLogs): CallbackResult | Promise<CallbackResult>;
  /** Right after each optimizer step (and the model's masks, which train re-applies itself), before onBatchEnd: clip, project, prune on a schedule. */
  afterStep?(model: tf.LayersModel): void | Promise<void>;
}

export type { OptimizerName } from "./pace";

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  /** Seeds the shuffling; same seed, same data and same initial weights give the same final weights. */
  seed: number;
  /** Learning rate of a named optimizer (defaults: adam 1e-3, rmsprop 1e-3, sgd 1e-2, adagrad 1e-2). */
  lr?: number;
  /** An optimizer (kept alive, its state carries over) or a name (created and disposed here). Default "adam". */
  optimizer?: tf.Optimizer | OptimizerName;
  /**
   * L2 weight decay λ of the kernels (biases and batch-norm parameters are
   * left alone): λ/2 · Σ w² is added to each step's loss, so every kernel's
   * gradient gains λ·w, as Caffe's weight_decay and PyTorch's SGD
   * weight_decay do. Default 0.
   */
  weightDecay?: number;
  /** Default: see resolveLoss. */
  loss?: LossSpec;
  validation?: TrainData;
  /** Reshuffle every epoch (default true). */
  shuffle?: boolean;
  /** Stops training between batches when aborted (E_INTERRUPTED); default host().signal(). */
  signal?: AbortSignal;
  /**
   * Who runs this training, for the E_INTERRUPTED message: the public
   * function's name and what an interrupt leaves behind (default: "train",
   * the model keeps the weights of the last completed step).
   */
  caller?: Caller;
  callbacks?: TrainCallbacks;
  /** Show a progress bar through host() (default true). */
  progress?: boolean;
  /** Title of the progress bar (default "train <model name>"). */
  label?: string;
}

export interface TrainHistory {
  epochs: EpochLogs[];
  /** Optimizer steps applied. */
  steps: number;
  /** A callback returned "stop". */
  stoppedEarly: boolean;
  seconds: number;
}

function checkData(data: TrainData | undefined, fn: string, what: string): number {
  if (!(data?.xs instanceof tf.Tensor) || !(data?.ys instanceof tf.Tensor)) {
    throw new SlimlabError("E_TYPE", `${fn}: ${what} must be {xs: tf.Tensor, ys: tf.Tensor}, received ${show(data)}`);
  }
  if (data.xs.isDisposed || data.ys.isDisposed) throw new SlimlabError("E_DATA", `${fn}: ${what} holds a disposed tensor`);
  const n = data.xs.shape[0];
  if (data.xs.rank === 0 || n === 0 || data.ys.shape[0] !== n) {
    throw new SlimlabError("E_DATA", `${fn}: ${what}.xs has shape [${data.xs.shape.join(", ")}] and ${what}.ys [${data.ys.shape.join(", ")}]; both need the same non-zero number of samples on axis 0`);
  }
  return n;
}

/**
 * Checks that samples fit a single-input model before anything runs: inputs
 * of the model's input shape, and one-hot labels as wide as its output.
 * Otherwise the first forward pass fails inside tfjs, possibly after the
 * model was already changed (a pruning round, quantized weights).
 *
 * @param model the model the samples are for
 * @param data the samples; `ys` may be omitted (calibration inputs)
 * @param fn the public function's name
 * @param what the argument's name in messages ("data", "val", "--calibrate")
 * @throws SlimlabError E_DATA naming both shapes
 * @example
 *   checkSamples(model, { xs, ys }, "prune", "val");
 */
export function checkSamples(model: tf.LayersModel, data: { xs: tf.Tensor; ys?: tf.Tensor }, fn: string, what: string): void {
  const shape = (s: readonly (number | null)[]) => `[${s.map((d) => (d === null ? "any" : String(d))).join(", ")}]`;
  const want = model.inputs[0].shape.slice(1);
  const got = data.xs.shape.slice(1);
  if (model.inputs.length === 1 && (got.length !== want.length || want.some((d, i) => d !== null && d !== got[i]))) {
    throw new SlimlabError("E_DATA", `${fn}: ${what}.xs has samples of shape ${shape(got)} but model "${model.name}" takes ${shape(want)}; pass inputs of that shape`);
  }
  const out = model.outputs[0].shape;
  const width = out[out.length - 1];
  if (data.ys !== undefined && data.ys.rank === 2 && out.length === 2 && width !== null && width > 1 && data.ys.shape[1] !== 1 && data.ys.shape[1] !== width) {
    throw new SlimlabError("E_DATA", `${fn}: ${what}.ys has rows of ${data.ys.shape[1]} values but model "${model.name}" outputs ${width}; pass one-hot labels of width ${width} or class indices`);
  }
}

function positiveInt(value: unknown, name: string): number {
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new SlimlabError("E_ARG", `train: ${name} must be a positive integer, received ${show(value)}`);
  }
  return value as number;
}

/** The optimizer to use and whether this run created it (and so disposes it). */
function makeOptimizer(opts: TrainOptions): { optimizer: tf.Optimizer; owned: boolean } {
  if (opts.lr !== undefined && (typeof opts.lr !== "number" || !(opts.lr > 0) || !Number.isFinite(opts.lr))) {
    throw new SlimlabError("E_ARG", `train: lr must be a positive number, received ${show(opts.lr)}`);
  }
  const opt = opts.optimizer ?? "adam";
  if (opt instanceof tf.Optimizer) {
    if (opts.lr !== undefined) {
      throw new SlimlabError("E_ARG", `train: lr ${opts.lr} is ignored when optimizer is an instance; set the rate when creating it, or pass optimizer by name`);
    }
    return { optimizer: opt, owned: false };
  }
  const names = Object.keys(OPTIMIZERS);
  if (typeof opt !== "string" || !names.includes(opt)) {
    throw new SlimlabError("E_ARG", `train: unknown optimizer ${show(opt)}${typeof opt === "string" ? suggestion(opt, names) : ""}; allowed: ${names.join(", ")} or a tf.Optimizer`);
  }
  return { optimizer: OPTIMIZERS[opt](opts.lr), owned: true };
}



/**
 * Trains `model` in place with `optimizer.minimize` on shuffled mini-batches.
 * Pruned weights stay zero: the model's masks are re-applied after every step.
 *
 * Before every batch the abort signal is checked: an interrupt ends the run
 * at a step boundary with SlimlabError E_INTERRUPTED (the weights are those
 * after the last completed step and its afterStep; the progress bar ends
 * "interrupted"), so the rest of the cell does not run. The model's own
 * compiled optimizer is not used, so runs do not depend on hidden state.
 * Dropout masks are seeded too: tfjs draws a Dropout layer's seed from
 * Math.random when its config has none, so during each forward pass
 * Math.random is swapped for a generator derived from `seed` (and put back
 * right after, the pass being synchronous). Same seed, same weights.
 *
 * @param model a built single-output tf.LayersModel (changed in place)
 * @param data training samples
 * @param opts epochs, batchSize, seed and the optional settings above
 * @returns per-epoch averages, the step count and how the run ended
 * @throws SlimlabError E_TYPE/E_DATA for bad data (also samples or one-hot
 *   labels that do not fit the model), E_ARG for bad options,
 *   E_MODEL for a multi-output model, E_INTERRUPTED when the user
 *   interrupts; errors thrown by callbacks propagate (the bar ends "error")
 * @example
 *   const h = await train(model, {xs, ys}, {epochs: 2, batchSize: 64, seed: 1, lr: 1e-3});
 *   h.epochs.at(-1)?.acc;
 */
export async function train(model: tf.LayersModel, data: TrainData, opts: TrainOptions): Promise<TrainHistory> {
  const m = requireModel(model, "train");
  if (m.outputs.length !== 1) throw new SlimlabError("E_MODEL", `train: model "${m.name}" has ${m.outputs.length} outputs; only single-output models are supported`);
  const n = checkData(data, "train", "data");
  if (opts.validation !== undefined) checkData(opts.validation, "train", "validation");
  const epochs = positiveInt(opts?.epochs, "epochs");
  const batchSize = positiveInt(opts.batchSize, "batchSize");
  if (!Number.isInteger(opts.seed)) throw new SlimlabError("E_ARG", `train: seed must be an integer, received ${show(opts.seed)}`);
  const loss = resolveLoss(opts.loss, m, data.ys, "train");
  checkSamples(m, data, "train", "data");
  if (opts.validation !== undefined) checkSamples(m, opts.validation, "train", "validation");
  const decay = weightDecayOf(opts.weightDecay, m);
  const { optimizer, owned } = makeOptimizer(opts);
  const signal = opts.signal ?? host().signal();
  const caller = opts.caller ?? { fn: "train", leaves: "the model keeps the weights of the last completed step; run the cell again to go on training" };
  const label = opts.label ?? `train ${m.name}`;
  const stepsPerEpoch = Math.ceil(n / batchSize);
  const bar: Progress | undefined = opts.progress === false ? undefined : host().progress(label, epochs * stepsPerEpoch);
  const rand = mulberry32(opts.seed);
  // A separate stream for Dropout, so the batch order does not depend on how many layers drop out.
  const dropoutRand = mulberry32((opts.seed ^ 0x5eed5eed) >>> 0);
  const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
  const history: TrainHistory = { epochs: [], steps: 0, stoppedEarly: false, seconds: 0 };
  const start = Date.now();
  let status = "";
  // Loss and accuracy stay on the backend between logging intervals (every step only for onBatchEnd).
  const log = new StepLog();
  const everyStep = opts.callbacks?.onBatchEnd !== undefined;
  let next: Batch | undefined;
  try {
    for (let epoch = 0; epoch < epochs && !history.stoppedEarly; epoch++) {
      const order = opts.shuffle === false ? Array.from({ length: n }, (_, i) => i) : shuffledIndices(n, rand);
      const t0 = Date.now();
      log.resetSums();
      let steps = 0;
      const batchAt = (b: number) => prepareBatch(data, order.slice(b * batchSize, (b + 1) * batchSize));
      next = batchAt(0);
      for (let b = 0; b < stepsPerEpoch; b++) {
        stopIfInterrupted(signal, () => `${caller.fn}: interrupted by the user after ${history.steps} of ${epochs * stepsPerEpoch} steps (epoch ${epoch + 1}/${epochs}) of "${label}"; ${caller.leaves}`);
        const current = next as Batch;
        let result: [tf.Scalar, tf.Scalar];
        try {
          result = step(m, current, optimizer, vars, loss, dropoutRand, decay);
        } finally {
          tf.dispose([current.xs, current.ys]);
          next = undefined;
        }
        log.push(...result, current.size);
        // The next batch is gathered while this step's values are still on the backend.
        if (b + 1 < stepsPerEpoch) next = batchAt(b + 1);
        reapplyMasks(m);
        if (opts.callbacks?.afterStep) await opts.callbacks.afterStep(m);
        history.steps++;
        steps++;
        const last = b + 1 === stepsPerEpoch;
        if (last || logDue(log, everyStep)) {
          const read = await log.flush();
          if (await replayBatchEnds(read, epoch, b, history.steps, opts.callbacks?.onBatchEnd)) history.stoppedEarly = true;
          const elapsed = (Date.now() - start) / 1000;
          const rate = (history.steps * batchSize) / Math.max(elapsed, 1e-3);
          const eta = ((epochs * stepsPerEpoch - history.steps) * elapsed) / history.steps;
          const accValue = read.length > 0 ? read[read.length - 1].acc : NaN;
          status = `epoch ${epoch + 1}/${epochs} loss ${(log.sumLoss / log.seen).toFixed(4)}${Number.isNaN(accValue) ? "" : ` acc ${(log.sumAcc / log.seen).toFixed(4)}`} ${Math.round(rate)} samples/s ETA ${formatSeconds(eta)}`;
          bar?.update(history.steps, status);
        }
        if (history.stoppedEarly) break;
        await nextTick();
      }
      if (next !== undefined) tf.dispose([next.xs, next.ys]);
      next = undefined;
      if (steps === 0) break;
      const complete = steps === stepsPerEpoch;
      const logs: EpochLogs = { epoch, loss: log.sumLoss / log.seen, acc: log.sumAcc / log.seen, steps, samples: log.seen, seconds: (Date.now() - t0) / 1000, complete };
      if (complete && opts.validation !== undefined) {
        const v = await evaluate(m, opts.validation, batchSize, opts.loss, signal, caller);
        logs.valLoss = v.loss;
        logs.valAcc = v.accuracy;
      }
      history.epochs.push(logs);
      if (complete && (await opts.callbacks?.onEpochEnd?.(epoch, logs)) === "stop") history.stoppedEarly = true;
    }
  } catch (e) {
    if (isInterrupt(e)) bar?.end("interrupted", `${history.steps} steps ${status}`);
    else bar?.end("error", e instanceof Error ? e.message : String(e));
    throw e;
  } finally {
    if (next !== undefined) tf.dispose([next.xs, next.ys]);
    log.dispose();
    if (owned) optimizer.dispose();
    history.seconds = (Date.now() - start) / 1000;
  }
  bar?.end("done", `${history.steps} steps ${status}`);
  return history;
}

/** Runs `fn` with Math.random replaced by `rand` (see train's doc: seeded Dropout). */
function withRandom<T>(rand: () => number, fn: () => T): T {
  const original = Math.random;
  Math.random = rand;
  try {
    return fn();
  } finally {
    Math.random = original;
  }
}

/** A mini-batch gathered ahead of its step. */
interface Batch {
  xs: tf.Tensor;
  ys: tf.Tensor;
  size: number;
}

/** Gathers the samples `idx` (the caller disposes them). */
function prepareBatch(data: TrainData, idx: number[]): Batch {
  return tf.tidy(() => {
    const at = tf.tensor1d(idx, "int32");
    return { xs: tf.gather(data.xs, at), ys: tf.gather(data.ys, at), size: idx.length };
  });
}

/** One optimizer step on `batch`; returns the batch loss and accuracy before the step, still on the backend. */
function step(
  model: tf.LayersModel,
  batch: Batch,
  optimizer: tf.Optimizer,
  vars: tf.Variable[],
  loss: ResolvedLoss,
  dropoutRand: () => number,
  decay?: WeightDecay
): [tf.Scalar, tf.Scalar] {
  return gradientStepTensors(model, optimizer, vars, () => () => {
    const pred = withRandom(dropoutRand, () => model.apply(batch.xs, { training: true }) as tf.Tensor);
    const data = loss.fn(batch.ys, pred);
    return { loss: decay === undefined ? data : tf.add(data, decay.penalty()), accuracy: batchAccuracy(loss.accuracy, batch.ys, pred) };
  });
}

/** Weight decay's term of the loss. */
interface WeightDecay {
  /** λ/2 · Σ w² over the kernels, on the tape. */
  penalty(): tf.Scalar;
}

/** Kernels: the weights named …kernel (Dense, Conv2D, depthwise and pointwise kernels), not biases or batch-norm parameters. */
const KERNEL_NAME = /kernel(_\d+)?$/;

/** The weight decay of a run, or undefined for none (0 or not given). */
function weightDecayOf(lambda: unknown, model: tf.LayersModel): WeightDecay | undefined {
  if (lambda === undefined || lambda === 0) return undefined;
  if (typeof lambda !== "number" || !Number.isFinite(lambda) || lambda < 0) {
    throw new SlimlabError("E_ARG", `train: weightDecay must be a number ≥ 0 (e.g. 5e-4), received ${show(lambda)}`);
  }
  const kernels = model.trainableWeights.filter((w) => KERNEL_NAME.test(w.originalName ?? w.name)).map((w) => w.read() as tf.Variable);
  if (kernels.length === 0) throw new SlimlabError("E_ARG", `train: weightDecay ${lambda} given but model "${model.name}" has no trainable kernels to decay`);
  return {
    penalty: () => tf.mul(lambda / 2, tf.addN(kernels.map((k) => tf.sum(tf.square(k))))) as tf.Scalar,
  };
}

/**
 * Mean loss and accuracy of `model` on `data`, in inference mode (Dropout
 * off, BatchNormalization on its moving statistics); regularisers excluded.
 *
 * @param model a built single-output tf.LayersModel
 * @param data samples to score
 * @param batchSize samples per forward pass (bounds memory), default 256
 * @param loss as in train (default: see resolveLoss)
 * @param signal checked before every batch (default host().signal())
 * @param caller the public function's name and what an interrupt leaves, for the E_INTERRUPTED message
 * @returns {loss, accuracy}; accuracy is NaN for regression losses
 * @throws SlimlabError E_TYPE/E_DATA for bad data, E_ARG for a bad batchSize
 *   or loss, E_INTERRUPTED when the user interrupts
 * @example
 *   const { accuracy } = await evaluate(model, test, 512);
 */
export async function evaluate(
  model: tf.LayersModel,
  data: TrainData,
  batchSize = 256,
  loss?: LossSpec,
  signal: AbortSignal = host().signal(),
  caller: Caller = { fn: "evaluate", leaves: "nothing was measured; run the cell again" }
): Promise<{ loss: number; accuracy: number }> {
  const m = requireModel(model, "evaluate");
  const n = checkData(data, "evaluate", "data");
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new SlimlabError("E_ARG", `evaluate: batchSize must be a positive integer, received ${show(batchSize)}`);
  const resolved = resolveLoss(loss, m, data.ys, "evaluate");
  checkSamples(m, data, caller.fn, "data");
  let sumLoss = 0;
  let sumAcc = 0;
  for (let start = 0; start < n; start += batchSize) {
    await checkpoint(signal, () => `${caller.fn}: interrupted by the user while scoring ${start} of ${n} samples; ${caller.leaves}`);
    const size = Math.min(batchSize, n - start);
    const both = tf.tidy(() => {
      const xb = tf.slice(data.xs, start, size);
      const yb = tf.slice(data.ys, start, size);
      const pred = m.apply(xb, { training: false }) as tf.Tensor;
      return tf.stack([resolved.fn(yb, pred), batchAccuracy(resolved.accuracy, yb, pred)]);
    });
    let values: Float32Array | Int32Array | Uint8Array;
    try {
      values = await both.data();
    } finally {
      both.dispose();
    }
    sumLoss += values[0] * size;
    sumAcc += values[1] * size;
  }
  return { loss: sumLoss / n, accuracy: sumAcc / n };
}
