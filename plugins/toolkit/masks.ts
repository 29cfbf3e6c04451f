/**
 * The one place that changes a model's weights for pruning (as PyTorch's
 * prune.py keeps every mutation in one `apply`), and the side table that
 * remembers each model's masks: WeakMap<tf.LayersModel, Map<weightName, mask>>,
 * never properties patched onto layers (house rule 5).
 *
 * It lives in the toolkit, below every technique, because masks must follow
 * a model wherever slimlab takes it (pruning only computes them):
 * - every copy slimlab makes inherits them (clone.ts `inherit`, used by
 *   cloneModel, surgery's rebuild and fake-quant insertion);
 * - every training loop slimlab runs calls {@link reapplyMasks} right after
 *   each optimizer step (train.ts, so QAT and centroid fine-tuning too;
 *   distill's loop; prune's model.fit callback);
 * - `model.dispose()` disposes them (lifetime.ts);
 * - saved models keep them: the names of the masked weights go into the
 *   model's userDefinedMetadata (`slimlab.masks`, which tfjs writes to
 *   model.json), and a model loaded with that entry gets its masks back,
 *   re-derived from the exact zeros of those weights, the first time the
 *   table is consulted.
 *
 * A weight name is "<layer name>/<role>", e.g. "fc1/kernel" or "bn/gamma";
 * it stays the same in clones and rebuilt models, unlike tfjs variable names.
 * A mask is a float32 tensor of the weight's shape holding 0 (pruned) and 1.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { weightRole } from "./layers";
import { forgetDispose, onDispose } from "./lifetime";

type Table = Map<string, tf.Tensor>;

/**
 * The side table. Its tensors belong to it: removeMasks (and disposing the
 * model) disposes them. It sits in one slot on globalThis (as host.ts does)
 * so that a second copy of this file, loaded by a user's own import, sees
 * the same masks.
 */
const SLOT = Symbol.for("slimlab.prune.masks");
const SIDE_TABLE: WeakMap<tf.LayersModel, Table> = ((globalThis as { [SLOT]?: WeakMap<tf.LayersModel, Table> })[SLOT] ??= new WeakMap());

/** The userDefinedMetadata entry listing the masked weights: {slimlab: {masks: string[]}}. */
const META = "slimlab";

type Meta = { [META]?: { masks?: unknown } & Record<string, unknown> } & Record<string, unknown>;

function metadataOf(model: tf.LayersModel): Meta | undefined {
  return model.getUserDefinedMetadata() as Meta | undefined;
}

/** Writes the names of the masked weights into the model's userDefinedMetadata (removes the entry when there are none). */
function syncMetadata(model: tf.LayersModel, names: readonly string[]): void {
  const meta: Meta = { ...(metadataOf(model) ?? {}) };
  const own: Record<string, unknown> = { ...(meta[META] ?? {}) };
  if (names.length > 0) own.masks = [...names];
  else delete own.masks;
  if (Object.keys(own).length > 0) meta[META] = own as Meta[typeof META];
  else delete meta[META];
  model.setUserDefinedMetadata(meta);
}

/** Stores `table` as the model's masks and ties them to its lifetime. */
function setTable(model: tf.LayersModel, table: Table): void {
  SIDE_TABLE.set(model, table);
  onDispose(model, "masks", () => removeMasks(model));
  syncMetadata(model, [...table.keys()]);
}

/**
 * Masks of a model loaded from files saved with masks: for each weight the
 * metadata names, 1 where the weight is non-zero and 0 where it is exactly 0.
 */
function adopt(model: tf.LayersModel): Table | undefined {
  const names = metadataOf(model)?.[META]?.masks;
  if (!Array.isArray(names)) return undefined;
  const table: Table = new Map();
  for (const name of names) {
    const v = typeof name === "string" ? findWeight(model, name) : undefined;
    if (v === undefined) continue;
    table.set(name, tf.keep(tf.tidy(() => tf.cast(tf.notEqual(v.read(), 0), "float32"))));
  }
  if (table.size === 0) return undefined;
  setTable(model, table);
  return table;
}

/** The model's table: its side-table entry, or masks re-derived from a loaded model's metadata. */
function tableOf(model: tf.LayersModel): Table | undefined {
  return SIDE_TABLE.get(model) ?? adopt(model);
}

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
  const table = tableOf(model) ?? new Map<string, tf.Tensor>();
  for (const [name, , mask] of targets) {
    const old = table.get(name);
    if (old !== undefined && old !== mask) old.dispose();
    table.set(name, tf.keep(mask));
  }
  setTable(model, table);
}

/**
 * Multiplies every masked weight by its mask again (changes the model in
 * place). Call it after each optimizer step so pruned weights stay exactly
 * zero while the survivors train (Zhu & Gupta 2017, §3). Every training
 * loop of slimlab already does (train, distill, the model.fit callback);
 * call it from a loop of your own.
 *
 * @param model a model with masks (a model without any is left alone)
 * @example
 *   optimizer.minimize(loss); reapplyMasks(model);
 */
export function reapplyMasks(model: tf.LayersModel): void {
  const table = tableOf(model);
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
  return new Map(tableOf(model) ?? []);
}

/**
 * Makes pruning permanent, like PyTorch's `prune.remove`: the zeros stay in
 * the weights, the masks are dropped from the side table and disposed, so
 * later training may move the pruned weights again (and a saved copy no
 * longer says it was pruned). Disposing the model does this by itself.
 *
 * @param model a model with or without masks (changed: it loses its masks)
 * @example
 *   removeMasks(pruned); // getMasks(pruned).size === 0
 */
export function removeMasks(model: tf.LayersModel): void {
  const table = SIDE_TABLE.get(model);
  if (table !== undefined) {
    tf.dispose([...table.values()]);
    SIDE_TABLE.delete(model);
    forgetDispose(model, "masks");
  }
  if (metadataOf(model)?.[META]?.masks !== undefined) syncMetadata(model, []);
}

/**
 * Gives `to` its own copies of `from`'s masks for the weights it has with
 * the same name and shape (clones and rebuilt models keep layer names).
 * The weights of `to` are not written.
 *
 * @param from the model whose masks to copy
 * @param to the model receiving them (its side-table entry is extended)
 * @param accept optional: copy only the masks of the weight names it accepts
 * @returns the number of masks copied
 * @example
 *   copyMasks(model, cloneModel(model));
 */
export function copyMasks(from: tf.LayersModel, to: tf.LayersModel, accept?: (name: string) => boolean): number {
  const source = from === to ? undefined : tableOf(from);
  if (source === undefined) return 0;
  const table = tableOf(to) ?? new Map<string, tf.Tensor>();
  let n = 0;
  for (const [name, mask] of source) {
    if (accept !== undefined && !accept(name)) continue;
    const v = findWeight(to, name);
    if (v === undefined || JSON.stringify(v.shape) !== JSON.stringify(mask.shape)) continue;
    table.get(name)?.dispose();
    // tf.clone shares the data (refcounted): cheap, and disposing one copy keeps the other.
    table.set(name, tf.keep(tf.clone(mask)));
    n++;
  }
  if (n > 0) setTable(to, table);
  return n;
}
