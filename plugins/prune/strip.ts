/**
 * Strip: turn masked-out units into a physically smaller model, the step
 * that makes structured pruning pay off in size and speed ("pruning did not
 * make my model smaller" is the complaint it answers). The units to drop are
 * read from the side-table masks, the new model is built by
 * toolkit/surgery.ts's rebuild (next layers' inputs and BatchNormalization
 * are cut to match, through Concatenate offsets and Adds whose inputs all
 * lose the same channels), and remaining masks are carried over, sliced the
 * same way.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { cloneModel } from "../toolkit/clone";
import { requireModel } from "../toolkit/layers";
import { KeepEdit, rebuild } from "../toolkit/surgery";
import { applyMasks, findWeight, getMasks } from "./masks";
import { DependencyGroup } from "./groups";
import { modelGroups, unitPaths, UnitPath } from "./paths";
import { builtinPrunables, PrunableLayer, PruneRegistry } from "./registry";
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
  const paths = unitPaths(model, registry);
  for (const [name] of paths) {
    const layer = model.getLayer(name);
    const gone = removedUnits(layer, registry.get(layer.getClassName()) as PrunableLayer, masks);
    if (gone.length > 0) removed.set(name, gone);
  }
  if (removed.size === 0) return { edits, removed };
  checkGroups(model, modelGroups(model, paths), removed);
  for (const [name, gone] of removed) {
    const layer = model.getLayer(name);
    const path = paths.get(name) as UnitPath;
    const problem = path.notZero ?? path.blocked;
    if (problem !== undefined) {
      throw new SlimlabError("E_MODEL", `strip: cannot remove the ${gone.length} masked units of layer "${name}" (${layer.getClassName()}): ${problem}`);
    }
    const units = (layer.outputShape as number[]).slice(-1)[0];
    const goneSet = new Set(gone);
    edits.push({ op: "keep", layer: name, channels: Array.from({ length: units }, (_, c) => c).filter((c) => !goneSet.has(c)) });
  }
  return { edits, removed };
}

/**
 * Checks that the masks remove whole channel sets: a channel of an Add can
 * only be cut when every unit summed into it is gone, and never when a
 * pinned input (one no prunable layer produces) feeds it.
 */
function checkGroups(model: tf.LayersModel, groups: readonly DependencyGroup[], removed: ReadonlyMap<string, number[]>): void {
  const gone = new Map([...removed].map(([n, us]) => [n, new Set(us)] as const));
  const cls = (name: string) => model.getLayer(name).getClassName();
  for (const g of groups) {
    if (g.merges.length === 0 || !g.members.some((m) => gone.has(m))) continue;
    for (const set of g.channels) {
      const out = set.units.filter(([layer, u]) => gone.get(layer)?.has(u));
      if (out.length === 0) continue;
      const [layer, u] = out[0];
      if (set.pinned !== undefined) throw new SlimlabError("E_MODEL", `strip: cannot remove unit ${u} of layer "${layer}" (${cls(layer)}): ${set.pinned}`);
      const kept = set.units.find(([l, v]) => !gone.get(l)?.has(v));
      if (kept !== undefined) {
        throw new SlimlabError(
          "E_MODEL",
          `strip: cannot remove unit ${u} of layer "${layer}" (${cls(layer)}) alone: it is summed with unit ${kept[1]} of "${kept[0]}" (${cls(kept[0])}) at ${g.merges.map((m) => `"${m}"`).join(", ")}, which the masks keep; prune the group ${g.members.join(", ")} together (method structured does)`
        );
      }
    }
  }
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
 *   be cut (a model output, a non-linear merge, a reshape, a shared layer)
 *   or pass an activation with f(0) ≠ 0, or when units summed at an Add are
 *   not removed together; E_TYPE/E_MODEL for a model that is not a built
 *   LayersModel
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
