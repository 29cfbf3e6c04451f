/**
 * The one check every magic that reads a model's weights runs first: no
 * weight may hold NaN or ±Infinity. A diverged model otherwise goes through
 * silently and comes out wrong (a std-based pruning threshold of NaN zeroes
 * almost a whole layer, a quantization range of Infinity has no levels).
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { weightRole } from "./layers";

/** A weight with non-finite values, and how many of each kind. */
export interface NonFinite {
  /** The layer holding the weight (the innermost one for nested models). */
  layer: string;
  /** The weight's role in its layer: "kernel", "bias", "moving_variance", ... */
  weight: string;
  nan: number;
  infinite: number;
}

/** Every float weight of `layers`, nested models walked into, with the layer that holds it. */
function floatWeights(layers: readonly tf.layers.Layer[]): { layer: string; variable: tf.LayerVariable }[] {
  const out: { layer: string; variable: tf.LayerVariable }[] = [];
  for (const layer of layers) {
    if (layer instanceof tf.LayersModel) out.push(...floatWeights(layer.layers));
    else for (const variable of layer.weights) if (variable.dtype === "float32") out.push({ layer: layer.name, variable });
  }
  return out;
}

/**
 * The first weight of `model` (in layer order) holding NaN or ±Infinity.
 * Counted with tensor ops, so only two numbers per weight leave the backend.
 *
 * @param model a built tf.LayersModel
 * @returns the weight and its counts, or undefined when all weights are finite
 * @example
 *   findNonFinite(model); // {layer: "fc1", weight: "kernel", nan: 3, infinite: 0}
 */
export function findNonFinite(model: tf.LayersModel): NonFinite | undefined {
  for (const { layer, variable } of floatWeights(model.layers)) {
    const counts = tf.tidy(() => {
      const v = variable.read();
      return tf.stack([tf.sum(tf.cast(tf.isNaN(v), "int32")), tf.sum(tf.cast(tf.isInf(v), "int32"))]);
    });
    const [nan, infinite] = counts.dataSync();
    counts.dispose();
    if (nan > 0 || infinite > 0) return { layer, weight: weightRole(variable), nan, infinite };
  }
  return undefined;
}

/**
 * Refuses a model with NaN or infinite weights, naming the layer and weight.
 *
 * @param model a built tf.LayersModel
 * @param fn the public function's name, for the message ("prune")
 * @param doing what `fn` was about to do, for the message ("pruning")
 * @throws SlimlabError E_MODEL, e.g. `prune: layer "fc1" kernel has 3 NaN
 *   values; fix the model (e.g. lower the learning rate) before pruning`
 * @example
 *   assertFinite(model, "quantize", "quantizing");
 */
export function assertFinite(model: tf.LayersModel, fn: string, doing: string): void {
  const bad = findNonFinite(model);
  if (bad === undefined) return;
  const plural = (n: number, what: string) => `${n} ${what} value${n === 1 ? "" : "s"}`;
  const counts = [bad.nan > 0 ? plural(bad.nan, "NaN") : "", bad.infinite > 0 ? plural(bad.infinite, "infinite") : ""].filter((s) => s !== "").join(" and ");
  throw new SlimlabError("E_MODEL", `${fn}: layer "${bad.layer}" ${bad.weight} has ${counts}; fix the model (e.g. lower the learning rate) before ${doing}`);
}
