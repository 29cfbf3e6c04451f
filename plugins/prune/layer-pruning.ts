/**
 * Layer pruning (seeds/002 §3.2.2): score each layer that can be bypassed by
 * the validation loss of the model without it, then remove the least
 * important ones, i.e. those whose absence raises the loss least.
 *
 * Only layers whose input and output shapes agree can be bypassed (Dense
 * n→n, a conv with as many filters as input channels and 'same' padding,
 * stride 1); the removal itself is toolkit/surgery.ts's `remove` edit.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { host } from "../core/host";
import { inputShapes } from "../toolkit/channels";
import { rebuild } from "../toolkit/surgery";
import { evaluate, TrainData } from "../toolkit/train";
import { outputLayers } from "./paths";
import { Target } from "./targets";

export interface LayerScore {
  layer: string;
  kind: string;
  /** Validation loss with this layer bypassed. */
  loss: number;
  accuracy: number;
  /** loss − the intact model's loss. */
  delta: number;
  removed: boolean;
}

/** Why a layer cannot be bypassed, if it cannot. */
export function bypassProblem(model: tf.LayersModel, layer: tf.layers.Layer): string | undefined {
  if (outputLayers(model).has(layer)) return "it produces a model output";
  if (layer.inboundNodes.length !== 1) return `it is called ${layer.inboundNodes.length} times`;
  const ins = inputShapes(layer);
  if (ins.length !== 1) return `it has ${ins.length} inputs`;
  if (JSON.stringify(ins[0]) !== JSON.stringify(layer.outputShape)) {
    return `its input shape ${JSON.stringify(ins[0])} differs from its output shape ${JSON.stringify(layer.outputShape)}`;
  }
  return undefined;
}

/**
 * Splits targets into the layers that can be bypassed and the ones that
 * cannot (with the reason).
 *
 * @param model the model
 * @param targets candidate layers
 * @param literal names the user gave exactly (an error if one of them cannot be bypassed)
 * @returns the removable targets and the skipped ones
 * @throws SlimlabError E_MODEL for a literally named layer that cannot be
 *   bypassed, or when none can
 * @example
 *   removable(model, targets, new Set()).removable.map((t) => t.info.name);
 */
export function removable(model: tf.LayersModel, targets: readonly Target[], literal: ReadonlySet<string>): { removable: Target[]; skipped: { layer: string; reason: string }[] } {
  const out: { removable: Target[]; skipped: { layer: string; reason: string }[] } = { removable: [], skipped: [] };
  for (const t of targets) {
    const problem = bypassProblem(model, t.info.layer);
    if (problem === undefined) out.removable.push(t);
    else if (literal.has(t.info.name)) throw new SlimlabError("E_MODEL", `prune: layer "${t.info.name}" (${t.info.className}) cannot be removed by method layer: ${problem}`);
    else out.skipped.push({ layer: t.info.name, reason: problem });
  }
  if (out.removable.length === 0) {
    throw new SlimlabError(
      "E_MODEL",
      `prune: no layer of model "${model.name}" can be bypassed (${out.skipped.map((s) => `${s.layer}: ${s.reason}`).join("; ")}); method layer needs input shape == output shape, e.g. Dense n→n or a conv with as many filters as input channels and padding "same"`
    );
  }
  return out;
}

/**
 * Scores each candidate by the loss on `val` with it bypassed, and picks the
 * `count` with the lowest such loss.
 *
 * @param model the model (not changed)
 * @param candidates removable layers
 * @param val validation data
 * @param count how many to remove (≤ candidates)
 * @param batchSize evaluation batch size
 * @param caller for the E_INTERRUPTED message: the public name and what an interrupt leaves
 * @returns the intact model's loss/accuracy and one score per candidate (lowest loss first)
 * @throws SlimlabError E_INTERRUPTED when the user interrupts (checked before every batch)
 * @example
 *   const { scores } = await scoreLayers(model, cands, val, 1, 256);
 */
export async function scoreLayers(
  model: tf.LayersModel,
  candidates: readonly Target[],
  val: TrainData,
  count: number,
  batchSize: number,
  caller = { fn: "prune", leaves: "nothing was removed; run the cell again to prune" }
): Promise<{ base: { loss: number; accuracy: number }; scores: LayerScore[] }> {
  const signal = host().signal();
  const base = await evaluate(model, val, batchSize, undefined, signal, caller);
  const scores: LayerScore[] = [];
  for (const t of candidates) {
    const without = rebuild(model, [{ op: "remove", layer: t.info.name }]);
    try {
      const e = await evaluate(without, val, batchSize, undefined, signal, caller);
      scores.push({ layer: t.info.name, kind: t.info.className, loss: e.loss, accuracy: e.accuracy, delta: e.loss - base.loss, removed: false });
    } finally {
      without.dispose();
    }
  }
  scores.sort((a, b) => a.loss - b.loss || a.layer.localeCompare(b.layer));
  scores.slice(0, count).forEach((s) => (s.removed = true));
  return { base, scores };
}
