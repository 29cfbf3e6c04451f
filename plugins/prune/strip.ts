/**
 * Strip: turn masked-out units into a physically smaller model, the step
 * that makes structured pruning pay off in size and speed ("pruning did not
 * make my model smaller" is the complaint it answers). The units to drop are
 * read from the side-table masks, the new model is built by
 * toolkit/surgery.ts's rebuild (next layers' inputs and BatchNormalization
 * are cut to match), and remaining masks are carried over, sliced the same way.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { cloneModel } from "../toolkit/clone";
import { requireModel } from "../toolkit/layers";
import { KeepEdit, rebuild } from "../toolkit/surgery";
import { applyMasks, findWeight, getMasks } from "./masks";
import { unitPath } from "./paths";
import { builtinPrunables, PruneRegistry } from "./registry";
import { removedUnits } from "./unit-masks";

export interface StripResult {
  /** The new, smaller model (the input is not changed). */
  model: tf.LayersModel;
  /** Layer → units removed (indices in the original model). */
  removed: Map<string, number[]>;
}

/** The keep edits for every layer whose masks remove units. */
function keepEdits(model: tf.LayersModel, registry: PruneRegistry, masks: ReadonlyMap<string, tf.Tensor>): { edits: KeepEdit[]; removed: Map<string, number[]> } {
  const edits: KeepEdit[] = [];
  const removed = new Map<string, number[]>();
  for (const layer of model.layers) {
    const entry = registry.get(layer.getClassName());
    if (entry?.unitKernel === undefined) continue;
    const gone = removedUnits(layer, entry, masks);
    if (gone.length === 0) continue;
    const path = unitPath(model, layer, registry);
    const problem = path.notZero ?? path.blocked;
    if (problem !== undefined) {
      throw new SlimlabError("E_MODEL", `strip: cannot remove the ${gone.length} masked units of layer "${layer.name}": ${problem}`);
    }
    const units = (layer.outputShape as number[]).slice(-1)[0];
    const goneSet = new Set(gone);
    edits.push({ op: "keep", layer: layer.name, channels: Array.from({ length: units }, (_, c) => c).filter((c) => !goneSet.has(c)) });
    removed.set(layer.name, gone);
  }
  return { edits, removed };
}

/** The masks of `model`, cut by `edits` like the weights (by rebuilding a copy whose weights are the masks). */
function slicedMasks(model: tf.LayersModel, edits: KeepEdit[], masks: ReadonlyMap<string, tf.Tensor>): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  if (masks.size === 0) return out;
  const carrier = cloneModel(model);
  let cut: tf.LayersModel | undefined;
  try {
    for (const [name, mask] of masks) findWeight(carrier, name)?.write(mask);
    cut = rebuild(carrier, edits);
    for (const name of masks.keys()) {
      const v = findWeight(cut, name);
      if (v === undefined) continue;
      const hasZero = tf.tidy(() => tf.min(v.read()).dataSync()[0] === 0);
      if (hasZero) out.set(name, tf.clone(v.read()));
    }
    return out;
  } finally {
    carrier.dispose();
    cut?.dispose();
  }
}

/**
 * Builds a smaller model without the units that `model`'s masks removed
 * (a unit is removed when its kernel slice and bias entry are masked to zero),
 * so that it computes what the masked model computes (to float rounding)
 * with fewer parameters and FLOPs.
 *
 * @param model a pruned model (not changed)
 * @param registry which layer classes have units (default builtinPrunables())
 * @returns the new model with the remaining masks installed, and the removed units
 * @throws SlimlabError E_MODEL when removed units feed something that cannot
 *   be cut (a model output, a merge, a reshape) or pass an activation with
 *   f(0) ≠ 0; E_TYPE/E_MODEL for a model that is not a built LayersModel
 * @example
 *   const { model: small } = strip((await prune(m, { method: "structured", sparsity: 0.5 })).model);
 */
export function strip(model: tf.LayersModel, registry: PruneRegistry = builtinPrunables()): StripResult {
  const m = requireModel(model, "strip");
  const masks = getMasks(m);
  const { edits, removed } = keepEdits(m, registry, masks);
  const out = edits.length === 0 ? cloneModel(m) : rebuild(m, edits);
  try {
    const sliced = edits.length === 0 ? new Map([...masks].map(([n, t]) => [n, tf.clone(t)] as const)) : slicedMasks(m, edits, masks);
    applyMasks(out, sliced, "strip");
  } catch (e) {
    out.dispose();
    throw e;
  }
  return { model: out, removed };
}
