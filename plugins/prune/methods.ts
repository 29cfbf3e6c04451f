/**
 * One entry point to the mask-computing methods (magnitude, structured,
 * neuron), so schedules and callbacks can ask "masks for this model at this
 * target" without knowing which method runs. Like the methods themselves it
 * only reads the model and returns new mask tensors.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { weightRole } from "../toolkit/layers";
import { DependencyGroup, weakestChannels } from "./groups";
import { MagnitudeTarget, magnitudeMasks, MaskInput } from "./magnitude";
import { weightName } from "./masks";
import { neuronMasks, UnitLayer } from "./neuron";
import { Resolved } from "./options";
import { UnitPath } from "./paths";
import { UnitTarget, unitScores, unitsToRemove } from "./structured";
import { Target } from "./targets";
import { MaskBuilder, removedUnits, removeUnits } from "./unit-masks";

export interface MethodOutcome {
  /** Weight name → new full mask (already combined with the prior one); the caller owns the tensors. */
  masks: Map<string, tf.Tensor>;
  /** Magnitude: θ per weight name. */
  thresholds?: Map<string, number>;
  /** Structured/neuron: removed units per layer (including earlier removals). */
  removed?: Map<string, number[]>;
  /** Neuron: sweeps to the fixed point. */
  sweeps?: number;
}

/** The weights magnitude pruning masks in `targets`: the registry's kernels, plus biases on request. */
export function magnitudeInputs(targets: readonly Target[], includeBias: boolean, prior: ReadonlyMap<string, tf.Tensor>): MaskInput[] {
  const out: MaskInput[] = [];
  for (const t of targets) {
    for (const v of t.info.weights) {
      const role = weightRole(v);
      if (!t.entry.kernels.includes(role) && !(includeBias && role === "bias")) continue;
      const name = weightName(t.info.name, role);
      out.push({ name, value: v.read(), previous: prior.get(name) });
    }
  }
  return out;
}

/**
 * Magnitude masks with a sparsity per layer (options.layerSparsity): each
 * weight gets its layer's fraction, or the shared target for layers not named.
 */
function perLayerMasks(inputs: readonly MaskInput[], layerSparsity: Readonly<Record<string, number>>, shared: MagnitudeTarget): MethodOutcome {
  const out: MethodOutcome = { masks: new Map(), thresholds: new Map() };
  for (const input of inputs) {
    const layer = input.name.slice(0, input.name.lastIndexOf("/"));
    const own = layerSparsity[layer];
    const { masks, thresholds } = magnitudeMasks([input], own === undefined ? shared : { sparsity: own }, "layer");
    out.masks.set(input.name, masks.get(input.name) as tf.Tensor);
    out.thresholds?.set(input.name, thresholds.get(input.name) as number);
  }
  return out;
}

/**
 * Structured masks, one dependency group at a time (groups.ts): each
 * channel set is scored by the summed L1/L2 norms of its units' kernel
 * slices, and the weakest sets go, units of every member at once. A layer
 * whose units meet no other layer's is a group of its own, one set per unit.
 */
function structuredMasks(model: tf.LayersModel, r: Resolved, targets: readonly Target[], prior: ReadonlyMap<string, tf.Tensor>, units: UnitTarget): MethodOutcome {
  const builder = new MaskBuilder(model, prior);
  const removed = new Map<string, number[]>();
  const byLayer = new Map(targets.map((t) => [t.info.name, t] as const));
  const done = new Set<DependencyGroup>();
  for (const t of targets) {
    const g = t.group;
    if (g === undefined) throw new SlimlabError("E_PLUGIN", `prune: target "${t.info.name}" has no dependency group; build targets with selectTargets`);
    if (done.has(g)) continue;
    done.add(g);
    const members = g.members.map((m) => byLayer.get(m) as Target);
    const memberScores = new Map(members.map((mt) => [mt.info.name, unitScores((mt.info.weights.find((w) => weightRole(w) === mt.entry.unitKernel) as tf.LayerVariable).read(), r.criterion)] as const));
    const before = new Map(members.map((mt) => [mt.info.name, new Set(removedUnits(mt.info.layer, mt.entry, prior))] as const));
    const scores = g.channels.map((set) => set.units.reduce((sum, [layer, u]) => sum + (memberScores.get(layer) as Float32Array)[u], 0));
    const already = g.channels.flatMap((set, i) => (set.units.some(([layer, u]) => before.get(layer)?.has(u)) ? [i] : []));
    const free = g.channels.filter((set) => set.pinned === undefined).length;
    const gone = weakestChannels(g, scores, unitsToRemove(free, units), already);
    const perLayer = new Map<string, number[]>(g.members.map((m) => [m, []]));
    for (const i of gone) for (const [layer, u] of g.channels[i].units) perLayer.get(layer)?.push(u);
    for (const mt of members) {
      const us = (perLayer.get(mt.info.name) as number[]).sort((a, b) => a - b);
      removeUnits(builder, mt.info.layer, mt.entry, mt.path as UnitPath, us);
      removed.set(mt.info.name, us);
    }
  }
  return { masks: builder.tensors(), removed };
}

/**
 * Masks of the configured method for `model`.
 *
 * @param model the model being pruned (read only)
 * @param r resolved options (method, scope, criterion, minDegree, ...)
 * @param targets the layers to prune
 * @param prior the masks in force (never revived)
 * @param at the target for this pruning event (a schedule's round or step);
 *   default the options' own target
 * @returns new masks and what the method found
 * @example
 *   const out = computeMasks(model, resolveOptions({ sparsity: 0.5 }), targets, getMasks(model));
 */
export function computeMasks(
  model: tf.LayersModel,
  r: Resolved,
  targets: readonly Target[],
  prior: ReadonlyMap<string, tf.Tensor>,
  at: { magnitude?: MagnitudeTarget; units?: UnitTarget } = {}
): MethodOutcome {
  switch (r.method) {
    case "magnitude": {
      const inputs = magnitudeInputs(targets, r.includeBias, prior);
      const target = (at.magnitude ?? r.magnitude) as MagnitudeTarget;
      if (r.layerSparsity !== undefined) return perLayerMasks(inputs, r.layerSparsity, target);
      const { masks, thresholds } = magnitudeMasks(inputs, target, r.scope);
      return { masks, thresholds };
    }
    case "structured":
      return structuredMasks(model, r, targets, prior, (at.units ?? r.units) as UnitTarget);
    case "neuron": {
      const layers: UnitLayer[] = targets.map((t) => ({ layer: t.info.layer, entry: t.entry, path: t.path ?? { weights: [], merges: [] } }));
      const { masks, removed, sweeps } = neuronMasks(model, layers, r.minDegree, prior);
      return { masks, removed, sweeps };
    }
    case "layer":
      return { masks: new Map() };
  }
}

/**
 * Fraction of the targets' kernel entries that masks hold at zero (weights
 * without a mask count as unpruned); what a schedule's history reports.
 *
 * @param targets the pruned layers
 * @param masks the model's masks
 * @returns zeros / entries over the registry's kernels of `targets`
 * @example
 *   maskedFraction(targets, getMasks(model)); // 0.8
 */
export function maskedFraction(targets: readonly Target[], masks: ReadonlyMap<string, tf.Tensor>): number {
  let zeros = 0;
  let total = 0;
  for (const t of targets) {
    for (const v of t.info.weights) {
      const role = weightRole(v);
      if (!t.entry.kernels.includes(role)) continue;
      total += (v.shape as number[]).reduce((a, b) => a * b, 1);
      const m = masks.get(weightName(t.info.name, role))?.dataSync();
      if (m !== undefined) for (let i = 0; i < m.length; i++) if (m[i] === 0) zeros++;
    }
  }
  return total === 0 ? 0 : zeros / total;
}
