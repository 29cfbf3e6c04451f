/**
 * Running a schedule on a model prune() owns: one shot, Han et al.'s
 * iterative prune → retrain rounds, or Zhu & Gupta's gradual pruning during
 * training. Training is toolkit/train.ts's loop (seeded, interruptible),
 * which re-applies the masks after every optimizer step by itself. An
 * interrupt ends a schedule with SlimlabError E_INTERRUPTED (prune() then
 * puts the model back).
 */
import * as tf from "@tensorflow/tfjs";
import { batches, DataSource, isDataset } from "../data/dataset";
import { DEFAULT_LR } from "../toolkit/pace";
import { train, TrainData } from "../toolkit/train";
import { polynomialFor, ScheduledPruner, ScheduleRecord } from "./attach";
import { applyMasks, getMasks } from "./masks";
import { computeMasks, maskedFraction, MethodOutcome } from "./methods";
import { Resolved } from "./options";
import { IterativeSchedule, iterativeSchedule, iterativeSparsity } from "./schedule";
import { Target } from "./targets";

/** What a schedule run reports back. */
export interface RunOutcome {
  history: ScheduleRecord[];
  thresholds: ReadonlyMap<string, number>;
  sweeps?: number;
}

/**
 * For E_INTERRUPTED messages of a prune run: the public name and what an
 * interrupt leaves (prune() restores an in-place model and frees a copy).
 *
 * @param r resolved options
 * @returns the caller as train() and evaluate() take it
 * @example
 *   await evaluate(model, val, 256, undefined, host().signal(), pruneCaller(r));
 */
export function pruneCaller(r: Pick<Resolved, "inplace">): { fn: string; leaves: string } {
  return {
    fn: "prune",
    leaves: r.inplace ? "the model got its weights and masks back; run the cell again to prune" : "no pruned model was kept and the given one is unchanged; run the cell again to prune",
  };
}

/**
 * Labelled data as one pair of tensors: the tensor form as is, a Dataset's
 * batches concatenated (fine-tuning needs random access for shuffling).
 *
 * @param source validated data
 * @returns the tensors and whether the caller must dispose them
 * @example
 *   const { data, owned } = await materialize(ds);
 */
export async function materialize(source: DataSource): Promise<{ data: TrainData; owned: boolean }> {
  if (!isDataset(source)) return { data: source, owned: false };
  const xs: tf.Tensor[] = [];
  const ys: tf.Tensor[] = [];
  try {
    for await (const b of batches(source, 1, { argName: "data" })) {
      xs.push(b.xs);
      ys.push(b.ys);
    }
    // Both in one tidy: if ys cannot be joined, the joined xs goes too.
    const data = tf.tidy(() => ({ xs: tf.concat(xs, 0), ys: tf.concat(ys, 0) }));
    return { data, owned: true };
  } finally {
    tf.dispose([...xs, ...ys]);
  }
}

/**
 * Prunes once to the options' target.
 *
 * @example
 *   const out = runOneShot(work, r, targets);
 */
export function runOneShot(model: tf.LayersModel, r: Resolved, targets: readonly Target[]): RunOutcome {
  const out = computeMasks(model, r, targets, getMasks(model));
  applyMasks(model, out.masks, "prune");
  return { history: [], thresholds: out.thresholds ?? new Map(), sweeps: out.sweeps };
}

/** The target of round `round` of `n`: sparsity rises as 1 − (1 − s)^(r/n); K units grow linearly; θ rules stay. */
function roundTarget(r: Resolved, round: number, n: number): { magnitude?: Resolved["magnitude"]; units?: Resolved["units"]; level: number } {
  if (r.magnitude !== undefined && "sparsity" in r.magnitude) {
    const s = iterativeSparsity(r.magnitude.sparsity, round, n);
    return { magnitude: { sparsity: s }, level: s };
  }
  if (r.units !== undefined) {
    if ("sparsity" in r.units) {
      const s = iterativeSparsity(r.units.sparsity, round, n);
      return { units: { sparsity: s }, level: s };
    }
    const k = Math.round((r.units.remove * round) / n);
    return { units: { remove: k }, level: k };
  }
  return { magnitude: r.magnitude, level: NaN };
}

/**
 * Han et al. 2015's iterative pruning: `rounds` times, prune to the round's
 * target and retrain the survivors at lr/10 with the masks held.
 *
 * @param model the model (changed in place)
 * @param r resolved options
 * @param targets layers to prune
 * @param data training data
 * @param val optional held-out data (its accuracy goes into the history)
 * @returns the history (one record per round)
 * @throws SlimlabError E_INTERRUPTED when the user interrupts (between batches); train's errors
 * @example
 *   await runIterative(work, r, targets, data);
 */
export async function runIterative(model: tf.LayersModel, r: Resolved, targets: readonly Target[], data: TrainData, val?: TrainData): Promise<RunOutcome> {
  const sched: IterativeSchedule = r.scheduleObject?.kind === "iterative" ? r.scheduleObject : iterativeSchedule(r.steps ?? 3, r.epochs);
  const lr = (r.lr ?? DEFAULT_LR[r.optimizer]) / 10;
  const history: ScheduleRecord[] = [];
  let out: MethodOutcome = { masks: new Map() };
  let steps = 0;
  for (let round = 1; round <= sched.rounds; round++) {
    const at = roundTarget(r, round, sched.rounds);
    out = computeMasks(model, r, targets, getMasks(model), at);
    applyMasks(model, out.masks, "prune");
    const h = await train(model, data, {
      epochs: sched.epochs,
      batchSize: r.batchSize,
      seed: r.seed + round,
      lr,
      optimizer: r.optimizer,
      weightDecay: r.weightDecay,
      validation: val,
      label: `prune round ${round}/${sched.rounds}`,
      caller: pruneCaller(r),
    });
    steps += h.steps;
    const last = h.epochs[h.epochs.length - 1];
    history.push({ step: steps, round, target: at.level, sparsity: maskedFraction(targets, getMasks(model)), loss: last?.loss, accuracy: last?.acc, valLoss: last?.valLoss, valAccuracy: last?.valAcc });
  }
  return { history, thresholds: out.thresholds ?? new Map() };
}

/**
 * Zhu & Gupta 2017's gradual pruning: train for `epochs`, recomputing the
 * masks at s_t on the schedule's steps and re-applying them after every step.
 *
 * @param model the model (changed in place)
 * @param r resolved options
 * @param targets layers to prune
 * @param data training data
 * @returns one history record per pruning event (with the loss and accuracy
 *   of the batch trained right after it)
 * @throws SlimlabError E_ARG when endStep lies beyond the run's steps,
 *   E_INTERRUPTED when the user interrupts
 * @example
 *   await runPolynomial(work, r, targets, data);
 */
export async function runPolynomial(model: tf.LayersModel, r: Resolved, targets: readonly Target[], data: TrainData): Promise<RunOutcome> {
  const total = r.epochs * Math.ceil(data.xs.shape[0] / r.batchSize);
  const pruner = new ScheduledPruner(model, r, targets, polynomialFor(r, total));
  pruner.start();
  await train(model, data, {
    epochs: r.epochs,
    batchSize: r.batchSize,
    seed: r.seed,
    lr: r.lr,
    optimizer: r.optimizer,
    weightDecay: r.weightDecay,
    callbacks: {
      afterStep: () => pruner.afterStep(),
      onBatchEnd: (_step, logs) => pruner.note(logs.loss, logs.acc),
    },
    label: "prune (polynomial schedule)",
    caller: pruneCaller(r),
  });
  return { history: pruner.history, thresholds: pruner.thresholds };
}
