/**
 * The one place that writes quantized weights into a model (as PyTorch's
 * prune.py keeps every mutation in one `apply`), and the side table that
 * remembers each model's quantized tensors (a WeakMap, not properties on
 * layers; house rule 5). Quantizers never touch models.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { weightRole } from "../toolkit/layers";
import { QuantizedTensor } from "./quantized";

/** Model → weight name ("<layer>/<role>") → its quantized form. */
const SIDE_TABLE = new WeakMap<tf.LayersModel, Map<string, QuantizedTensor>>();

function findVariable(model: tf.LayersModel, name: string): tf.LayerVariable | undefined {
  const cut = name.lastIndexOf("/");
  const layer = model.layers.find((l) => l.name === name.slice(0, cut));
  return layer?.weights.find((w) => weightRole(w) === name.slice(cut + 1));
}

/**
 * Writes each quantized tensor's decoded values into the weight of that
 * name (changes `model` in place) and records the tensors in the side
 * table. Every name and shape is checked before anything is written; if a
 * write still fails, the weights written so far are restored.
 *
 * @param model the model to change (normally a fresh clone)
 * @param quantized weight name → quantized tensor
 * @param fn the public function's name, for messages
 * @throws SlimlabError E_MODEL when a name is not a weight of `model` or a shape differs
 * @example
 *   applyQuantized(copy, new Map([["fc1/kernel", q]]), "quantize");
 */
export function applyQuantized(model: tf.LayersModel, quantized: ReadonlyMap<string, QuantizedTensor>, fn: string): void {
  const plan: [tf.LayerVariable, QuantizedTensor][] = [];
  for (const [name, q] of quantized) {
    const v = findVariable(model, name);
    if (v === undefined) throw new SlimlabError("E_MODEL", `${fn}: model "${model.name}" has no weight ${name}`);
    if (v.shape.join(",") !== q.shape.join(",")) {
      throw new SlimlabError("E_MODEL", `${fn}: weight ${name} has shape [${v.shape.join(", ")}] but its quantized form [${q.shape.join(", ")}]`);
    }
    plan.push([v, q]);
  }
  const saved: [tf.LayerVariable, tf.Tensor][] = [];
  try {
    for (const [v, q] of plan) {
      saved.push([v, tf.clone(v.read())]);
      tf.tidy(() => {
        v.write(tf.tensor(q.values, q.shape, "float32"));
      });
    }
  } catch (e) {
    for (const [v, old] of saved) v.write(old);
    throw e;
  } finally {
    // A variable keeps a counted reference to the data it was given, so the
    // temporary tensor objects can go.
    saved.forEach(([, t]) => t.dispose());
  }
  const table = SIDE_TABLE.get(model) ?? new Map<string, QuantizedTensor>();
  for (const [name, q] of quantized) table.set(name, q);
  SIDE_TABLE.set(model, table);
}

/**
 * Replaces the record of `model`'s quantized tensors (an in-place quantize
 * that failed puts back what the model had before; an empty map forgets it).
 *
 * @param model the model
 * @param table weight name → quantized tensor, e.g. a copy of quantizedWeights(model) taken earlier
 * @example
 *   const before = new Map(quantizedWeights(m)); ...; setQuantizedWeights(m, before);
 */
export function setQuantizedWeights(model: tf.LayersModel, table: ReadonlyMap<string, QuantizedTensor>): void {
  if (table.size === 0) SIDE_TABLE.delete(model);
  else SIDE_TABLE.set(model, new Map(table));
}

/**
 * The quantized tensors recorded for `model` by applyQuantized.
 *
 * @param model a model returned by quantize
 * @returns weight name → quantized tensor (empty when none)
 * @example
 *   quantizedWeights(result.model).get("fc1/kernel")?.bits; // 8
 */
export function quantizedWeights(model: tf.LayersModel): ReadonlyMap<string, QuantizedTensor> {
  return SIDE_TABLE.get(model) ?? new Map();
}
