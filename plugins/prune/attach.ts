/**
 * How pruning attaches to training (TF-MOT's UpdatePruningStep callback,
 * kept apart from the methods and schedules): after every optimizer step the
 * masks are multiplied in again (toolkit/masks.ts reapplyMasks), so pruned
 * weights stay exactly zero while the survivors learn; on the steps a
 * schedule names, the masks are then recomputed at the schedule's sparsity
 * (Zhu & Gupta 2017, §3).
 *
 * Two forms of the same thing: a tfjs callback for model.fit (onBatchEnd
 * runs after the batch's update and re-applies the masks, as slimlab's own
 * loops do after each step) and an afterStep hook for toolkit/train.ts
 * (which re-applies the masks itself, so the hook only prunes on schedule).
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { requireModel } from "../toolkit/layers";
import { BatchLogs, TrainCallbacks } from "../toolkit/train";
import { applyMasks, getMasks, reapplyMasks } from "./masks";
import { computeMasks, maskedFraction } from "./methods";
import { PruneOptions, Resolved, resolveOptions } from "./options";
import { isPruningStep, PolynomialSchedule, polynomialSchedule, sparsityAt } from "./schedule";
import { selectTargets, Target } from "./targets";

/** One point of a schedule's history. */
export interface ScheduleRecord {
  /** Optimizer steps completed when the masks were computed. */
  step: number;
  /** Iterative schedules: the round (1-based). */
  round?: number;
  /** Sparsity the schedule asked for (weights for magnitude, units for structured). */
  target: number;
  /** Fraction of the pruned layers' kernel entries masked to zero. */
  sparsity: number;
  /** Loss and accuracy: of the next training batch (polynomial) or after fine-tuning (iterative). */
  loss?: number;
  accuracy?: number;
  valLoss?: number;
  valAccuracy?: number;
}

/**
 * The polynomial schedule prune() runs: the options' schedule object, or one
 * built from sparsity, beginStep, endStep, frequency and steps.
 *
 * @param r resolved options
 * @param totalSteps optimizer steps of the whole run, when known (endStep defaults to 80% of them)
 * @param fn caller name for messages
 * @returns the schedule
 * @throws SlimlabError E_MISSING_ARG without endStep and without totalSteps; E_ARG when endStep exceeds totalSteps
 * @example
 *   polynomialFor(resolveOptions({ sparsity: 0.8, schedule: "polynomial", endStep: 100 }, { needData: false }));
 */
export function polynomialFor(r: Resolved, totalSteps?: number, fn = "prune"): PolynomialSchedule {
  let s: PolynomialSchedule;
  if (r.scheduleObject?.kind === "polynomial") s = r.scheduleObject;
  else {
    const target = (r.magnitude ?? r.units) as { sparsity: number };
    const beginStep = r.beginStep ?? 0;
    const endStep = r.endStep ?? (totalSteps === undefined ? undefined : Math.max(beginStep + 1, Math.floor(0.8 * totalSteps)));
    if (endStep === undefined) throw new SlimlabError("E_MISSING_ARG", `${fn}: a polynomial schedule needs endStep (the optimizer step where sparsity ${target.sparsity} is reached); pass endStep`);
    const frequency = r.frequency ?? Math.max(1, Math.floor((endStep - beginStep) / (r.steps ?? 10)));
    s = polynomialSchedule({ initialSparsity: r.initialSparsity ?? 0, finalSparsity: target.sparsity, beginStep, endStep, frequency });
  }
  if (totalSteps !== undefined && s.endStep > totalSteps) {
    throw new SlimlabError("E_ARG", `${fn}: endStep ${s.endStep} is beyond the ${totalSteps} optimizer steps of the run (epochs × batches); lower endStep or raise epochs`);
  }
  return s;
}

/** Prunes one model on a polynomial schedule, one call per optimizer step. */
export class ScheduledPruner {
  readonly history: ScheduleRecord[] = [];
  /** θ per weight of the last magnitude pruning event. */
  thresholds: ReadonlyMap<string, number> = new Map();
  private done = 0;

  /**
   * @param model the model being trained (changed in place)
   * @param r resolved options (method and its target)
   * @param targets the layers to prune
   * @param schedule when and how much
   */
  constructor(readonly model: tf.LayersModel, private readonly r: Resolved, private readonly targets: readonly Target[], readonly schedule: PolynomialSchedule) {}

  /** Optimizer steps seen so far. */
  get step(): number {
    return this.done;
  }

  /** Before the first step: prunes to s_i when beginStep is 0. */
  start(): void {
    if (this.done === 0 && isPruningStep(this.schedule, 0)) this.pruneAt(0);
  }

  /** After each optimizer step (and the masks' re-application): recompute the masks on pruning steps. */
  afterStep(): void {
    this.done++;
    if (isPruningStep(this.schedule, this.done)) this.pruneAt(this.done);
  }

  /** Attaches a step's loss and accuracy to the record of that step, if it pruned. */
  note(loss: number | undefined, accuracy: number | undefined): void {
    const last = this.history[this.history.length - 1];
    if (last !== undefined && last.step === this.done) {
      last.loss = loss;
      last.accuracy = accuracy;
    }
  }

  private pruneAt(step: number): void {
    const target = sparsityAt(this.schedule, step);
    const at = this.r.method === "structured" ? { units: { sparsity: target } } : { magnitude: { sparsity: target } };
    const out = computeMasks(this.model, this.r, this.targets, getMasks(this.model), at);
    applyMasks(this.model, out.masks, "prune");
    this.thresholds = out.thresholds ?? new Map();
    this.history.push({ step, target, sparsity: maskedFraction(this.targets, getMasks(this.model)) });
  }
}

/** A ScheduledPruner for `options`, which must ask for a polynomial schedule with a known endStep. */
function pruner(model: tf.LayersModel, options: PruneOptions, fn: string): ScheduledPruner {
  const m = requireModel(model, fn);
  const r = resolveOptions(options, { needData: false });
  if (r.schedule !== "polynomial") {
    throw new SlimlabError("E_ARG", `${fn}: schedule ${JSON.stringify(r.schedule)} does not run inside someone else's training loop; pass schedule "polynomial" with endStep, or call prune() for "${r.schedule}"`);
  }
  if (r.save !== undefined) throw new SlimlabError("E_ARG", `${fn}: save ${JSON.stringify(r.save)} applies to prune(), not to a training callback; save the model after training with saveSlim or exportModel`);
  return new ScheduledPruner(m, r, selectTargets(m, r).targets, polynomialFor(r, undefined, fn));
}

/** A model.fit callback that keeps masks in force (and prunes on a schedule); see {@link pruningCallback}. */
export class PruningCallback extends tf.CustomCallback {
  /** The schedule's history (empty when only re-applying masks). */
  get history(): readonly ScheduleRecord[] {
    return this.pruner?.history ?? [];
  }

  constructor(readonly target: tf.LayersModel, readonly pruner?: ScheduledPruner) {
    super({
      onTrainBegin: async () => pruner?.start(),
      onBatchEnd: async (_batch, logs) => {
        reapplyMasks(target);
        if (pruner !== undefined) {
          pruner.afterStep();
          pruner.note(logs?.loss, logs?.acc ?? logs?.accuracy);
        }
      },
    });
  }
}

/**
 * A tfjs callback for `model.fit` that re-applies `model`'s masks after every
 * batch (pruned weights stay exactly zero through fine-tuning). With options
 * asking for a polynomial schedule it also prunes gradually, Zhu & Gupta 2017:
 * masks are recomputed at s_t on the schedule's steps (counted in batches).
 * Changes `model` in place.
 *
 * @param model the model passed to fit
 * @param options optional: prune() options with schedule "polynomial" and
 *   endStep (or a polynomialSchedule object); data is not needed
 * @returns the callback; its `history` lists each pruning event
 * @throws SlimlabError as resolveOptions; E_ARG for a schedule other than
 *   polynomial; E_MISSING_ARG without endStep
 * @example
 *   const cb = pruningCallback(model, { sparsity: 0.8, schedule: "polynomial", beginStep: 0, endStep: 200, frequency: 20 });
 *   await model.fit(xs, ys, { epochs: 2, batchSize: 32, callbacks: [cb] });
 *   cb.history.at(-1)?.sparsity; // 0.8
 */
export function pruningCallback(model: tf.LayersModel, options?: PruneOptions): PruningCallback {
  if (options === undefined) return new PruningCallback(requireModel(model, "pruningCallback"));
  return new PruningCallback(model, pruner(model, options, "pruningCallback"));
}

/** TrainCallbacks for toolkit/train.ts that keep masks in force; see {@link pruningHook}. */
export interface PruningHook extends TrainCallbacks {
  afterStep(model: tf.LayersModel): void;
  onBatchEnd(step: number, logs: BatchLogs): void;
  readonly history: readonly ScheduleRecord[];
}

/**
 * Callbacks for toolkit/train.ts, which re-applies the model's masks after
 * every optimizer step by itself: with polynomial-schedule options,
 * `afterStep` prunes on schedule (to s_i right away when beginStep is 0);
 * without options the hook does nothing more. Changes `model` in place.
 *
 * @param model the model passed to train
 * @param options optional, as for {@link pruningCallback}
 * @returns callbacks to pass as train(..., {callbacks}); `history` lists the pruning events
 * @throws as {@link pruningCallback}
 * @example
 *   await train(model, data, { epochs: 1, batchSize: 32, seed: 0, callbacks: pruningHook(model) });
 */
export function pruningHook(model: tf.LayersModel, options?: PruneOptions): PruningHook {
  const p = options === undefined ? undefined : pruner(model, options, "pruningHook");
  requireModel(model, "pruningHook");
  p?.start();
  return {
    afterStep: () => p?.afterStep(),
    onBatchEnd: (_step, logs) => p?.note(logs.loss, logs.acc),
    get history() {
      return p?.history ?? [];
    },
  };
}
