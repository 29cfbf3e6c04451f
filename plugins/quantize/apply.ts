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

/** Whether `values` hold exactly (bit for bit) the decoded values `q` wrote into the model. */
export function codesMatch(q: QuantizedTensor, values: Float32Array): boolean {
  if (values.length !== q.values.length) return false;
  const a = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const b = new Uint32Array(q.values.buffer, q.values.byteOffset, q.values.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The quantized weights of `model` whose values changed since quantize
 * wrote them (training, `model.fit`, `setWeights`, an in-place `%prune`):
 * their recorded codes no longer describe them, so sizing or saving them
 * at those codes would be wrong. The record keeps each weight's decoded
 * values (QuantizedTensor.values, what applyQuantized wrote); a weight is
 * stale when its current float32 bits differ from them anywhere. This is
 * one pass over the weight, as cheap as hashing it, and exact: writing the
 * same values back (an lr-0 step) leaves the codes valid.
 *
 * @param model a model returned by quantize (others have no codes: [])
 * @param valuesOf the weight's current values, when the caller has them
 *   already (e.g. from model.save artifacts); default: read the variable
 * @returns the names of the stale weights, in record order
 * @example
 *   await r.model.fit(xs, ys);
 *   staleQuantized(r.model); // ["fc1/kernel", "fc2/kernel"]
 */
export function staleQuantized(model: tf.LayersModel, valuesOf?: (name: string) => Float32Array | undefined): string[] {
  const stale: string[] = [];
  for (const [name, q] of quantizedWeights(model)) {
    let values = valuesOf?.(name);
    if (values === undefined) {
      const v = findVariable(model, name);
      values = v === undefined ? undefined : (v.read().dataSync() as Float32Array);
    }
    if (values === undefined || !codesMatch(q, values)) stale.push(name);
  }
  return stale;
}

/**
 * The one-line explanation for stale codes, shared by %size, %compare,
 * %quantize --save, saveSlim and exportModel.
 *
 * @param stale names from staleQuantized (at least one)
 * @param what what the codes would be used for: "size them", "save them"
 * @returns e.g. "weights changed since %quantize (fc1/kernel); re-run %quantize to size them at their codes"
 * @example
 *   throw new SlimlabError("E_MODEL", `saveSlim: ${staleMessage(stale, "save them")}`);
 */
export function staleMessage(stale: readonly string[], what: string): string {
  const names = stale.length <= 3 ? stale.join(", ") : `${stale.slice(0, 3).join(", ")} and ${stale.length - 3} more`;
  return `weights changed since %quantize (${names}); re-run %quantize to ${what} at their codes`;
}
