/**
 * The one place that changes a model's weights for pruning (as PyTorch's
 * prune.py keeps every mutation in one `apply`), and the side table that
 * remembers each model's masks: WeakMap<tf.LayersModel, Map<weightName, mask>>,
 * never properties patched onto layers (house rule 5).
 *
 * A weight name is "<layer name>/<role>", e.g. "fc1/kernel" or "bn/gamma";
 * it stays the same in clones and rebuilt models, unlike tfjs variable names.
 * A mask is a float32 tensor of the weight's shape holding 0 (pruned) and 1.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { weightRole } from "../toolkit/layers";

/**
 * The side table. Its tensors belong to it: removeMasks disposes them. It
 * sits in one slot on globalThis (as host.ts does) so that a second copy of
 * this file, loaded by a user's own import, sees the same masks.
 */
const SLOT = Symbol.for("slimlab.prune.masks");
const SIDE_TABLE: WeakMap<tf.LayersModel, Map<string, tf.Tensor>> = ((globalThis as { [SLOT]?: WeakMap<tf.LayersModel, Map<string, tf.Tensor>> })[SLOT] ??= new WeakMap());

/**
 * The stable name of a layer's weight.
 *
 * @param layer layer name
 * @param role weight role ("kernel", "bias", "gamma", ...)
 * @returns "<layer>/<role>"
 * @example
 *   weightName("fc1", "kernel"); // "fc1/kernel"
 */
export function weightName(layer: string, role: string): string {
  return `${layer}/${role}`;
}

/**
 * The variable behind a weight name, or undefined.
 *
 * @param model the model
 * @param name "<layer>/<role>"
 * @returns the layer's LayerVariable with that role
 * @example
 *   findWeight(model, "fc1/kernel")?.shape; // [784, 300]
 */
export function findWeight(model: tf.LayersModel, name: string): tf.LayerVariable | undefined {
  const cut = name.lastIndexOf("/");
  const layer = model.layers.find((l) => l.name === name.slice(0, cut));
  return layer?.weights.find((w) => weightRole(w) === name.slice(cut + 1));
}

function writeMasked(v: tf.LayerVariable, mask: tf.Tensor): void {
  tf.tidy(() => {
    // w·0 is −0 for negative w; adding +0 makes every pruned weight +0, so
    // saved files hold plain zero bytes (and compress like them).
    v.write(tf.add(tf.mul(v.read(), mask), 0));
  });
}

/**
 * Installs `masks` on `model` (changes the model in place): each weight is
 * multiplied by its mask, and the mask is stored in the side table, replacing
 * (and disposing) an older mask of the same weight. Every mask is checked
 * before any weight is written; if a write still fails, the weights written
 * so far are restored and the error propagates.
 *
 * @param model the model to change
 * @param masks weight name → 0/1 float32 mask of the weight's shape; the side
 *   table takes ownership of these tensors (do not dispose them)
 * @param fn the public function's name, for messages
 * @throws SlimlabError E_ARG for an unknown weight name, E_MODEL for a mask whose shape differs
 * @example
 *   applyMasks(model, new Map([["fc1/kernel", tf.tensor2d([[1, 0]])]]));
 */
export function applyMasks(model: tf.LayersModel, masks: ReadonlyMap<string, tf.Tensor>, fn = "applyMasks"): void {
  const targets: [string, tf.LayerVariable, tf.Tensor][] = [];
  for (const [name, mask] of masks) {
    const v = findWeight(model, name);
    if (v === undefined) throw new SlimlabError("E_ARG", `${fn}: model "${model.name}" has no weight ${JSON.stringify(name)}; weight names are "<layer>/<role>", e.g. "fc1/kernel"`);
    if (JSON.stringify(v.shape) !== JSON.stringify(mask.shape)) {
      throw new SlimlabError("E_MODEL", `${fn}: mask of ${JSON.stringify(name)} has shape [${mask.shape.join(", ")}] but the weight has [${v.shape.join(", ")}]`);
    }
    targets.push([name, v, mask]);
  }
  const saved = targets.map(([, v]) => tf.clone(v.read()));
  let written = 0;
  try {
    for (const [, v, mask] of targets) {
      writeMasked(v, mask);
      written++;
    }
  } catch (e) {
    for (let i = 0; i < written; i++) targets[i][1].write(saved[i]);
    throw e;
  } finally {
    tf.dispose(saved);
  }
  const table = SIDE_TABLE.get(model) ?? new Map<string, tf.Tensor>();
  for (const [name, , mask] of targets) {
    const old = table.get(name);
    if (old !== undefined && old !== mask) old.dispose();
    table.set(name, tf.keep(mask));
  }
  SIDE_TABLE.set(model, table);
}

/**
 * Multiplies every masked weight by its mask again (changes the model in
 * place). Call it after each optimizer step so pruned weights stay exactly
 * zero while the survivors train (Zhu & Gupta 2017, §3).
 *
 * @param model a model with masks (a model without any is left alone)
 * @example
 *   await train(model, data, { ..., callbacks: { afterStep: reapplyMasks } });
 */
export function reapplyMasks(model: tf.LayersModel): void {
  const table = SIDE_TABLE.get(model);
  if (table === undefined) return;
  for (const [name, mask] of table) {
    const v = findWeight(model, name);
    if (v !== undefined) writeMasked(v, mask);
  }
}

/**
 * The masks of `model` (like PyTorch's `weight_mask` buffers).
 *
 * @param model any LayersModel
 * @returns a new Map of weight name → mask; the tensors are the side table's
 *   own (read them, do not dispose them); empty when the model has no masks
 * @example
 *   const m = getMasks(pruned).get("fc1/kernel");
 */
export function getMasks(model: tf.LayersModel): ReadonlyMap<string, tf.Tensor> {
  return new Map(SIDE_TABLE.get(model) ?? []);
}

/**
 * Makes pruning permanent, like PyTorch's `prune.remove`: the zeros stay in
 * the weights, the masks are dropped from the side table and disposed, so
 * later training may move the pruned weights again.
 *
 * @param model a model with or without masks (changed: it loses its masks)
 * @example
 *   removeMasks(pruned); // getMasks(pruned).size === 0
 */
export function removeMasks(model: tf.LayersModel): void {
  const table = SIDE_TABLE.get(model);
  if (table === undefined) return;
  tf.dispose([...table.values()]);
  SIDE_TABLE.delete(model);
}

/**
 * Gives `to` its own copies of `from`'s masks for the weights it has with
 * the same name and shape (clones and rebuilt models keep layer names).
 * The weights of `to` are not written.
 *
 * @param from the model whose masks to copy
 * @param to the model receiving them (its side-table entry is extended)
 * @returns the number of masks copied
 * @example
 *   copyMasks(model, cloneModel(model));
 */
export function copyMasks(from: tf.LayersModel, to: tf.LayersModel): number {
  const source = SIDE_TABLE.get(from);
  if (source === undefined || from === to) return 0;
  const table = SIDE_TABLE.get(to) ?? new Map<string, tf.Tensor>();
  let n = 0;
  for (const [name, mask] of source) {
    const v = findWeight(to, name);
    if (v === undefined || JSON.stringify(v.shape) !== JSON.stringify(mask.shape)) continue;
    table.get(name)?.dispose();
    // tf.clone shares the data (refcounted): cheap, and disposing one copy keeps the other.
    table.set(name, tf.keep(tf.clone(mask)));
    n++;
  }
  if (n > 0) SIDE_TABLE.set(to, table);
  return n;
}
