/**
 * prune(): the one function behind `%prune`. It checks everything first,
 * copies the model (unless inplace), runs the schedule with the chosen
 * method, strips if asked, and reports sizes, FLOPs and figures.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { PlotlyFigure } from "../core/figure";
import { host } from "../core/host";
import { ExportResult, assertSaveTarget, saveTo } from "../format/export";
import { cloneModel } from "../toolkit/clone";
import { assertFinite } from "../toolkit/finite";
import { requireModel } from "../toolkit/layers";
import { weightSnapshot } from "../toolkit/snapshot";
import { rebuild } from "../toolkit/surgery";
import { checkSamples, evaluate, TrainData } from "../toolkit/train";
import { ScheduleRecord } from "./attach";
import { Histogram, histogram, range } from "../core/histogram";
import { histogramFigure, layerScoreFigure, scheduleFigure, sparsityFigure } from "./figures";
import { LayerScore, removable, scoreLayers } from "./layer-pruning";
import { applyMasks, copyMasks, findWeight, getMasks, removeMasks, weightName } from "./masks";
import { checkLayerSparsity, PruneOptions, Resolved, resolveOptions } from "./options";
import { PruneMethod } from "./registry";
import { LayerRow, layerRows, ModelSummary, pruneNote, summarize } from "./report";
import { materialize, pruneCaller, RunOutcome, runIterative, runOneShot, runPolynomial } from "./run";
import { ScheduleName } from "./schedule";
import { strip } from "./strip";
import { literalNames, selectTargets, Selection, Target } from "./targets";
import { removedUnits } from "./unit-masks";

export interface PruneResult {
  /** The pruned model: a new one unless inplace (then the input itself). */
  model: tf.LayersModel;
  method: PruneMethod;
  schedule: ScheduleName;
  /** Per-layer rows of the result (show them with tableBundle), "(total)" last. */
  layers: LayerRow[];
  before: ModelSummary;
  after: ModelSummary;
  /** The result's masks (the side table's own tensors: read, do not dispose; see removeMasks). */
  masks: ReadonlyMap<string, tf.Tensor>;
  /** Magnitude: θ per weight name ("fc1/kernel"). */
  thresholds: Record<string, number>;
  /** Structured/neuron: units removed per layer (original indices). */
  removedUnits: Record<string, number[]>;
  /** Neuron: sweeps until the fixed point. */
  sweeps?: number;
  /** Layer: the intact model's loss and each candidate's loss when bypassed (lowest first). */
  baseLoss?: number;
  layerScores?: LayerScore[];
  removedLayers: string[];
  /** Schedules: one record per round or pruning event. */
  history: ScheduleRecord[];
  /** After a schedule: loss and accuracy on val (or data). */
  evaluation?: { loss: number; accuracy: number };
  /** Layers left out, and why. */
  skipped: { layer: string; reason: string }[];
  stripped: boolean;
  /** What changed and what did not, in plain words. */
  note: string;
  figures: PlotlyFigure[];
  /** With `save`: the .slim file or tfjs directory written, and its bytes on disk. */
  saved?: ExportResult;
}

/** Values of the targets' prunable kernels, found by name in `model`. */
function kernelValues(model: tf.LayersModel, targets: readonly Target[]): Float32Array[] {
  const out: Float32Array[] = [];
  for (const t of targets) {
    for (const role of t.entry.kernels) {
      const v = findWeight(model, weightName(t.info.name, role));
      if (v !== undefined) out.push(v.read().dataSync() as Float32Array);
    }
  }
  return out;
}

/**
 * Weights and masks of `model` (tf.clone shares the data: no copy), to put
 * back exactly if an in-place run fails, or to let go of when it succeeds.
 */
function snapshot(model: tf.LayersModel): { restore(): void; discard(): void } {
  const weights = weightSnapshot(model);
  const masks = new Map([...getMasks(model)].map(([n, t]) => [n, tf.clone(t)] as const));
  return {
    restore() {
      // Masks first (applyMasks writes masked weights and owns the clones),
      // then the saved weights over them, bit for bit.
      removeMasks(model);
      if (masks.size > 0) applyMasks(model, masks, "prune");
      weights.restore();
    },
    discard() {
      weights.discard();
      tf.dispose([...masks.values()]);
    },
  };
}

/** Frees a model prune() made (its masks too). */
function release(model: tf.LayersModel): void {
  removeMasks(model);
  model.dispose();
}

/**
 * Prunes a model.
 *
 * Methods (options.method, default "magnitude"):
 * - magnitude: zero the smallest |w| of each layer's kernel (or across all
 *   selected layers with scope "global") to reach `sparsity`, or every
 *   |w| ≤ `threshold`, or ≤ `stdMultiplier`·std(W) (Han et al. 2015).
 *   Biases are untouched unless includeBias. Dense kernels do not get faster.
 * - structured: remove `remove` K units per layer (N' = max(1, N − K)) or a
 *   `sparsity` fraction, ranked by L1/L2 norm; `strip` rebuilds a smaller model.
 * - neuron: remove units with ≤ minDegree non-zero in + out connections,
 *   repeated to a fixed point; `strip` as above.
 * - layer: bypass the `count` layers whose removal raises the validation
 *   loss least (needs data; only shape-preserving layers).
 * Schedules (options.schedule): "oneshot" (default); "iterative" (`steps`
 * rounds of prune → fine-tune `epochs` at lr/10); "polynomial" (Zhu & Gupta
 * 2017, over `epochs` of training from beginStep to endStep).
 * Masks are kept in a side table (getMasks/removeMasks) and re-applied after
 * every optimizer step of fine-tuning; masks the input already had are kept.
 *
 * @param model a built tf.LayersModel; not changed unless inplace
 * @param options see PruneOptions
 * @returns the pruned model and its report (rows, sizes, FLOPs, masks, figures, note)
 * @throws SlimlabError (the model is left exactly as it was, weights and
 *   masks bit for bit, and nothing prune made is kept):
 *   E_ARG for bad or conflicting options (sparsity outside [0, 1), sparsity
 *   with threshold, a glob matching no layer, count above the removable
 *   layers); E_MISSING_ARG for method layer or a fine-tuning schedule
 *   without data; E_MODEL for an unbuilt model or a layer that cannot be
 *   pruned that way or NaN/Inf weights; E_TYPE / E_DATA for a non-model or
 *   malformed data; E_INTERRUPTED when the user interrupts fine-tuning or scoring
 * @example
 *   const { model: sparse, note } = await prune(model, { sparsity: 0.9, scope: "global" });
 *   const { model: small } = await prune(cnn, { method: "structured", sparsity: 0.5, strip: true });
 */
export async function prune(model: tf.LayersModel, options: PruneOptions): Promise<PruneResult> {
  const m = requireModel(model, "prune");
  const r = resolveOptions(options);
  const selection = selectTargets(m, r);
  checkLayerSparsity(r, selection.targets.map((t) => t.info.name));
  assertFinite(m, "prune", "pruning");
  if (r.save !== undefined) await assertSaveTarget(r.save, { fn: "prune", force: r.force });
  const owned: tf.Tensor[] = [];
  const tensors = async (s: Resolved["data"]): Promise<TrainData | undefined> => {
    if (s === undefined) return undefined;
    const { data, owned: own } = await materialize(s);
    if (own) owned.push(data.xs, data.ys);
    return data;
  };
  try {
    const data = await tensors(r.data);
    const val = await tensors(r.val);
    // Before anything is pruned: data that cannot go through the model.
    if (data !== undefined) checkSamples(m, data, "prune", "data");
    if (val !== undefined) checkSamples(m, val, "prune", "val");
    if (r.method === "layer") return await pruneLayers(m, r, selection.targets, selection.skipped, (val ?? data) as TrainData);
    return await pruneMasked(m, r, selection, data, val);
  } finally {
    tf.dispose(owned);
  }
}

/**
 * Writes the pruned model when `save` was given: a .slim file (kernels
 * with zeros in CSR, `sparse`) or a tfjs directory. The target was checked
 * before pruning; a failure here is handled like any other (nothing kept).
 */
async function saveIfAsked(model: tf.LayersModel, r: Resolved): Promise<ExportResult | undefined> {
  if (r.save === undefined) return undefined;
  return saveTo(model, r.save, { fn: "prune", force: r.force, sparse: true });
}

async function pruneMasked(m: tf.LayersModel, r: Resolved, selection: Selection, data?: TrainData, val?: TrainData): Promise<PruneResult> {
  const before = summarize(m, layerRows(m), r.report);
  const beforeValues = r.report ? kernelValues(m, selection.targets) : [];
  const [lo, hi] = range(beforeValues);
  const hBefore: Histogram | undefined = r.report ? histogram(beforeValues, lo, hi, 80, false) : undefined;

  const saved = r.inplace ? snapshot(m) : undefined;
  const work = r.inplace ? m : cloneModel(m);
  let final = work;
  let workAlive = true;
  try {
    if (!r.inplace) copyMasks(m, work);
    const targets = work === m ? selection.targets : selectTargets(work, r).targets;
    let run: RunOutcome;
    if (r.schedule === "iterative") run = await runIterative(work, r, targets, data as TrainData, val);
    else if (r.schedule === "polynomial") run = await runPolynomial(work, r, targets, data as TrainData);
    else run = runOneShot(work, r, targets);
    if (r.strip) final = strip(work, r.registry).model;
    const masks = getMasks(work);
    const removed: Record<string, number[]> = {};
    if (r.method === "structured" || r.method === "neuron") {
      for (const t of targets) {
        const gone = removedUnits(t.info.layer, t.entry, masks);
        if (gone.length > 0) removed[t.info.name] = gone;
      }
    }
    if (final !== work) {
      release(work);
      workAlive = false;
    }
    // Accuracy after pruning: on val whenever given, else on the fine-tuning data.
    const scoreOn = val ?? (r.schedule === "oneshot" ? undefined : data);
    const evaluation = scoreOn === undefined ? undefined : await evaluate(final, scoreOn, 256, undefined, host().signal(), pruneCaller(r));
    const rows = layerRows(final);
    const after = summarize(final, rows, r.report);
    const figures: PlotlyFigure[] = [];
    if (r.report && hBefore !== undefined) {
      const afterValues = kernelValues(final, targets);
      const zeros = afterValues.reduce((n, a) => n + a.reduce((z, v) => z + (v === 0 ? 1 : 0), 0), 0);
      figures.push(sparsityFigure(rows), histogramFigure(hBefore, histogram(afterValues, lo, hi, 80, true), zeros, run.thresholds));
      if (run.history.length > 0) figures.push(scheduleFigure(run.history));
    }
    const written = await saveIfAsked(final, r);
    saved?.discard();
    return {
      saved: written,
      model: final,
      method: r.method,
      schedule: r.schedule,
      layers: rows,
      before,
      after,
      masks: getMasks(final),
      thresholds: Object.fromEntries(run.thresholds),
      removedUnits: removed,
      sweeps: run.sweeps,
      removedLayers: [],
      history: run.history,
      evaluation,
      skipped: selection.skipped,
      stripped: r.strip,
      note: pruneNote(r.method, before, after, r.strip),
      figures,
    };
  } catch (e) {
    if (saved !== undefined) saved.restore();
    else {
      if (workAlive) release(work);
      if (final !== work) release(final);
    }
    throw e;
  }
}

async function pruneLayers(m: tf.LayersModel, r: Resolved, targets: Target[], skipped: PruneResult["skipped"], val: TrainData): Promise<PruneResult> {
  const cands = removable(m, targets, literalNames(r.layers));
  if (r.count > cands.removable.length) {
    const names = cands.removable.map((t) => t.info.name).join(", ");
    throw new SlimlabError("E_ARG", `prune: count ${r.count} exceeds the ${cands.removable.length} removable layer${cands.removable.length === 1 ? "" : "s"} (${names}); pass count <= ${cands.removable.length}`);
  }
  const before = summarize(m, layerRows(m), r.report);
  const { base, scores } = await scoreLayers(m, cands.removable, val, r.count, 256);
  const gone = scores.filter((s) => s.removed).map((s) => s.layer);
  const final = rebuild(m, gone.map((layer) => ({ op: "remove" as const, layer })));
  let rows: LayerRow[];
  let after: ModelSummary;
  let evaluation: { loss: number; accuracy: number };
  let written: ExportResult | undefined;
  try {
    copyMasks(m, final);
    rows = layerRows(final);
    after = summarize(final, rows, r.report);
    evaluation = await evaluate(final, val, 256, undefined, host().signal(), pruneCaller(r));
    written = await saveIfAsked(final, r);
  } catch (e) {
    release(final);
    throw e;
  }
  return {
    saved: written,
    model: final,
    method: "layer",
    schedule: "oneshot",
    layers: rows,
    before,
    after,
    masks: getMasks(final),
    thresholds: {},
    removedUnits: {},
    baseLoss: base.loss,
    layerScores: scores,
    removedLayers: gone,
    history: [],
    evaluation,
    skipped: [...skipped, ...cands.skipped],
    stripped: true,
    note: `Removed ${gone.join(", ")} (validation loss ${base.loss.toFixed(4)} → ${evaluation.loss.toFixed(4)}, accuracy ${base.accuracy.toFixed(4)} → ${evaluation.accuracy.toFixed(4)}). ` + pruneNote("layer", before, after, true),
    figures: r.report ? [layerScoreFigure(base.loss, scores, gone), sparsityFigure(rows)] : [],
  };
}
