/**
 * Keras HDF5 models (`model.save("m.h5")` in Keras 2.x / tf.keras) as a
 * tf.LayersModel, read with jsfive (a pure-JS HDF5 reader).
 *
 * Such a file keeps the model's Keras config as JSON in the root attribute
 * `model_config` (the topology tfjs' converter puts in model.json, which
 * tfjs-layers builds), and its weights under `model_weights`: the attribute
 * `layer_names` lists the layers, and each layer's group has an attribute
 * `weight_names` ("dense/kernel:0", ...) naming the datasets beside it
 * (model_weights/dense/dense/kernel:0). Names are arrays of fixed-length
 * byte strings, split over `layer_names0`, `layer_names1`... when long.
 *
 * The model is built from the config, then each of its layers takes the
 * weights of the file's layer group of the same name, matched by weight
 * name within that layer (Keras itself pairs them by order within a layer,
 * which is the fallback) and checked for shape. Matching per layer matters:
 * tfjs lists a model's trainable weights before its non-trainable ones, so
 * a BatchNormalization's moving mean and variance are not where Keras has
 * them in a list of all weights.
 */
import * as tf from "@tensorflow/tfjs";
import * as hdf5 from "jsfive";
import { SlimlabError, isSlimlabError, show } from "../core/errors";

const fn = "loadKerasH5";

/** Class names some tf.keras releases wrote for layers tfjs knows by their usual name (tfjs' converter maps them too). */
const RENAMED: Record<string, string> = { BatchNormalizationV1: "BatchNormalization", UnifiedGRU: "GRU", UnifiedLSTM: "LSTM" };

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const ZIP_SIGNATURE = [0x50, 0x4b, 0x03, 0x04];

function startsWith(bytes: Uint8Array, signature: number[]): boolean {
  return bytes.length >= signature.length && signature.every((b, i) => bytes[i] === b);
}

/**
 * The file length the HDF5 superblock declares (its end-of-file address,
 * with 8-byte addresses as jsfive requires), or undefined for a superblock
 * this does not know.
 */
function declaredLength(bytes: Uint8Array): number | undefined {
  const version = bytes[8];
  const at = version === 0 ? 40 : version === 1 ? 44 : version === 2 || version === 3 ? 28 : undefined;
  const offsetSize = version <= 1 ? bytes[13] : bytes[9];
  if (at === undefined || offsetSize !== 8 || bytes.length < at + 8) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset + at, 8);
  return dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
}

/** jsfive throws strings, Errors and RangeErrors from DataView: one line of whichever. */
function reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  // eslint-disable-next-line no-control-regex
  return text.split("\n")[0].replace(/[\x00-\x1f\x7f]/g, "?").trim() || "unknown error";
}

type Fail = (message: string, code?: "E_FILE" | "E_MODEL") => never;

/** Text of a string attribute (jsfive gives fixed-length ones with their NUL padding). */
function text(value: unknown): string | undefined {
  if (Array.isArray(value) && value.length === 1) value = value[0];
  if (value instanceof Uint8Array) value = new TextDecoder().decode(value);
  return typeof value === "string" ? value.replace(/\0+$/, "") : undefined;
}

/**
 * A list-of-names attribute (layer_names, weight_names): an array of
 * strings, empty when written from an empty list (a float64 array of size
 * 0), and split into name0, name1... when it did not fit one attribute.
 */
function names(attrs: Record<string, unknown>, key: string, where: string, fail: Fail): string[] | undefined {
  let parts: unknown[];
  if (key in attrs) parts = [attrs[key]];
  else {
    parts = [];
    while (`${key}${parts.length}` in attrs) parts.push(attrs[`${key}${parts.length}`]);
    if (parts.length === 0) return undefined;
  }
  const out: string[] = [];
  for (const part of parts) {
    const items = typeof part === "string" ? [part] : Array.isArray(part) ? part : undefined;
    if (items === undefined) fail(`${where}'s attribute ${key} is not a list of names`);
    for (const item of items) {
      const name = text(item);
      if (name === undefined) fail(`${where}'s attribute ${key} holds ${show(item)}, not a name`);
      out.push(name);
    }
  }
  return out;
}

/** Drops TensorFlow's output index (":0") from a Keras weight name. */
export function kerasWeightName(name: string): string {
  return name.replace(/:\d+$/, "");
}

/**
 * Pairs a layer's weights in the model with the file's weights of that
 * layer: by the whole name, then by its last two parts ("dense/kernel"),
 * then by its last part ("kernel"), each only when exactly one file weight
 * is left with that key; what is left after that is paired in order, as
 * Keras does. Returns the file index for each model weight, or undefined
 * when the counts differ.
 */
export function matchWeights(modelNames: readonly string[], fileNames: readonly string[]): number[] | undefined {
  if (modelNames.length !== fileNames.length) return undefined;
  const file = fileNames.map(kerasWeightName);
  const pairs: (number | undefined)[] = modelNames.map(() => undefined);
  const taken = new Set<number>();
  const keys = [(n: string) => n, (n: string) => n.split("/").slice(-2).join("/"), (n: string) => n.split("/").slice(-1)[0]];
  for (const key of keys) {
    modelNames.forEach((m, i) => {
      if (pairs[i] !== undefined) return;
      const hits = file.map((_, j) => j).filter((j) => !taken.has(j) && key(file[j]) === key(m));
      if (hits.length === 1) {
        pairs[i] = hits[0];
        taken.add(hits[0]);
      }
    });
  }
  const left = file.map((_, j) => j).filter((j) => !taken.has(j));
  return pairs.map((p) => (p === undefined ? (left.shift() as number) : p));
}

/** Layer classes in a Keras model config (nested models and wrappers included), each with the first layer name seen. */
function layerClasses(entry: unknown, out = new Map<string, string>()): Map<string, string> {
  if (typeof entry !== "object" || entry === null) return out;
  const { class_name: cls, config } = entry as { class_name?: unknown; config?: { name?: unknown; layers?: unknown; layer?: unknown } };
  if (typeof cls === "string" && !out.has(cls)) out.set(cls, typeof config?.name === "string" ? config.name : "?");
  if (config !== undefined && Array.isArray(config.layers)) for (const l of config.layers) layerClasses(l, out);
  if (config?.layer !== undefined) layerClasses(config.layer, out); // TimeDistributed, Bidirectional
  return out;
}

/** Replaces class names in place, through the whole config. */
function rename(value: unknown): void {
  if (Array.isArray(value)) value.forEach(rename);
  else if (typeof value === "object" && value !== null) {
    const o = value as Record<string, unknown>;
    if (typeof o.class_name === "string" && o.class_name in RENAMED) o.class_name = RENAMED[o.class_name];
    Object.values(o).forEach(rename);
  }
}

/** The file's model_config as an object, after the checks that need no model. */
function readConfig(root: hdf5.File, fail: Fail): { config: Record<string, unknown>; kerasVersion?: string; backend?: string } {
  const attrs = root.attrs;
  const kerasVersion = text(attrs.keras_version);
  if (!("model_config" in attrs)) {
    if ("layer_names" in attrs || "layer_names0" in attrs) {
      fail("holds weights only (Keras model.save_weights), without the model's topology; save the whole model with model.save(\"m.h5\") and load that");
    }
    fail(`is HDF5 but has no model_config attribute, so it is not a Keras model.save() file (its root holds ${show(root.keys)})`);
  }
  if (kerasVersion !== undefined && !/^2\./.test(kerasVersion)) {
    fail(`was written by Keras ${kerasVersion}; slimlab reads the HDF5 files of Keras 2.x (tf.keras), the format tfjs' converter reads`);
  }
  const raw = text(attrs.model_config);
  if (raw === undefined) fail(`has a model_config attribute that is not a string (${show(attrs.model_config)})`);
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(raw);
  } catch (e) {
    fail(`has a model_config that is not valid JSON (${reason(e)})`);
  }
  if (typeof config !== "object" || config === null || typeof config.class_name !== "string" || typeof config.config !== "object") {
    fail("has a model_config without class_name and config; it is not a Keras model config");
  }
  rename(config);
  return { config, kerasVersion, backend: text(attrs.backend) };
}

/** Refuses layer classes tfjs-layers has not registered, naming them, before tfjs tries to build. */
function checkClasses(config: Record<string, unknown>, fail: Fail): void {
  const known = tf.serialization.SerializationMap.getMap().classNameMap;
  const unknown = [...layerClasses(config)].filter(([cls]) => !(cls in known));
  if (unknown.length > 0) {
    const list = unknown.map(([cls, layer]) => `${cls} (layer ${show(layer)})`).join(", ");
    fail(`uses layer class${unknown.length > 1 ? "es" : ""} ${list} that tfjs-layers does not have (a custom layer, or one tfjs has not ported); only built-in layers tfjs implements can be loaded`, "E_MODEL");
  }
}

const MODEL_CLASSES = new Set(["Sequential", "Functional", "Model"]);

type LayerEntry = { class_name?: unknown; name?: unknown; config?: { name?: unknown; layers?: unknown; input_layers?: unknown; layer?: unknown }; inbound_nodes?: unknown };

/**
 * tfjs-layers rebuilds a functional model by retrying the layer calls whose
 * inputs are not built yet until none is left, so a call that can never be
 * made (its input layer is missing or misspelt, or never has that many
 * calls) makes it loop forever. This runs the same retries on the config's
 * names alone (an InputLayer or a nested model starts with one call, any
 * other layer with none) and refuses such a config, in nested models too.
 */
function checkGraph(entry: unknown, fail: Fail): void {
  if (typeof entry !== "object" || entry === null) return;
  const { config } = entry as LayerEntry;
  if (config?.layer !== undefined) checkGraph(config.layer, fail);
  if (config === undefined || !Array.isArray(config.layers)) return;
  const layers = config.layers as LayerEntry[];
  layers.forEach((l) => checkGraph(l, fail));
  if (config.input_layers === undefined) return; // a Sequential: built layer after layer
  const calls = new Map<unknown, number>();
  const pending: { layer: unknown; node: unknown }[] = [];
  for (const l of layers) {
    const name = l?.name; // tfjs finds a call's input layers by this name, not by config.name
    if (typeof name !== "string") fail(`has a model config (${show(config.name)}) with a layer entry without a name (${show(l?.class_name)})`, "E_MODEL");
    calls.set(name, l?.class_name === "InputLayer" || MODEL_CLASSES.has(l?.class_name as string) ? 1 : 0);
    if (Array.isArray(l?.inbound_nodes)) for (const node of l.inbound_nodes) pending.push({ layer: name, node });
  }
  const ready = (ref: unknown) => Array.isArray(ref) && typeof ref[1] === "number" && (calls.get(ref[0]) ?? 0) > ref[1];
  for (let progress = true; progress && pending.length > 0; ) {
    progress = false;
    for (let i = 0; i < pending.length; ) {
      const { layer, node } = pending[i];
      if (Array.isArray(node) && !node.every(ready)) {
        i++;
        continue;
      }
      calls.set(layer, (calls.get(layer) ?? 0) + 1);
      pending.splice(i, 1);
      progress = true;
    }
  }
  if (pending.length > 0) {
    const { layer, node } = pending[0];
    const ref = (node as unknown[]).find((r) => !ready(r));
    const [source, index] = Array.isArray(ref) ? ref : [ref, undefined];
    const why = !calls.has(source) ? "which is not one of its layers" : `whose call ${show(index)} never happens`;
    fail(`has a model config (${show(config.name)}) where layer ${show(layer)} takes its input from ${show(source)}, ${why}; tfjs could not build it`, "E_MODEL");
  }
}

/** One layer group's weights: names as written and the datasets they point to. */
interface SavedLayer {
  names: string[];
  datasets: hdf5.Dataset[];
}

function readWeights(group: hdf5.Group, fail: Fail): Map<string, SavedLayer> {
  const layerNames = names(group.attrs, "layer_names", "model_weights", fail);
  if (layerNames === undefined) fail("has a model_weights group without the layer_names attribute");
  const out = new Map<string, SavedLayer>();
  for (const layer of layerNames) {
    let g: hdf5.Group;
    try {
      g = group.get(layer) as hdf5.Group;
    } catch (e) {
      fail(`lists layer ${show(layer)} in model_weights but has no group for it (${reason(e)})`);
    }
    const weightNames = names(g.attrs, "weight_names", `model_weights/${layer}`, fail) ?? [];
    const datasets = weightNames.map((w) => {
      let d: unknown;
      try {
        d = g.get(w);
      } catch (e) {
        fail(`names weight ${show(w)} in model_weights/${layer} but has no dataset for it (${reason(e)})`);
      }
      if (!(d instanceof hdf5.Dataset)) fail(`has model_weights/${layer}/${w} but it is not a dataset`);
      return d;
    });
    if (weightNames.length > 0) out.set(layer, { names: weightNames, datasets });
  }
  return out;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((n, i) => n === b[i]);
const shapeText = (s: readonly number[]) => `[${s.join(", ")}]`;

/** The saved values of one weight as float32, after checking its dtype and shape. */
function values(d: hdf5.Dataset, name: string, weight: tf.LayerVariable, fail: Fail): Float32Array {
  let shape: number[];
  let dtype: unknown;
  try {
    shape = d.shape.map(Number);
    dtype = d.dtype;
  } catch (e) {
    fail(`cannot be read at weight ${show(name)}, so it is damaged or truncated (${reason(e)})`);
  }
  if (!sameShape(shape, weight.shape as number[])) {
    fail(`has weight ${show(name)} of shape ${shapeText(shape)} but the model built from its config expects ${shapeText(weight.shape as number[])} for it`, "E_MODEL");
  }
  if (typeof dtype !== "string" || !/^[<>=|]?[fiu]\d+$/.test(dtype)) {
    fail(`has weight ${show(name)} of HDF5 type ${show(dtype)}; only numeric weights can be loaded`);
  }
  let raw: ArrayLike<number | bigint | string>;
  try {
    raw = d.value;
  } catch (e) {
    fail(`cannot be read at weight ${show(name)}, so it is damaged or truncated (${reason(e)})`);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  if (raw.length !== n) fail(`holds ${raw.length} values for weight ${show(name)} of shape ${shapeText(shape)}, so it is damaged or truncated`);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Number(raw[i]);
  return out;
}

/** Gives every layer of `model` its saved weights. */
function assignWeights(model: tf.LayersModel, saved: Map<string, SavedLayer>, fail: Fail): void {
  const pending: [tf.LayerVariable, Float32Array][] = [];
  const used = new Set<string>();
  for (const layer of model.layers) {
    const weights = layer.weights;
    if (weights.length === 0) continue;
    const file = saved.get(layer.name);
    if (file === undefined) {
      fail(`has no saved weights for layer ${show(layer.name)} (${weights.length} weights in the model built from its config; layers with saved weights: ${show([...saved.keys()])})`, "E_MODEL");
    }
    used.add(layer.name);
    const modelNames = weights.map((w) => w.originalName ?? w.name);
    const order = matchWeights(modelNames, file.names);
    if (order === undefined) {
      fail(`has ${file.names.length} weights for layer ${show(layer.name)} (${file.names.map(kerasWeightName).join(", ")}) but the model built from its config has ${weights.length} (${modelNames.join(", ")})`, "E_MODEL");
    }
    weights.forEach((w, i) => pending.push([w, values(file.datasets[order[i]], kerasWeightName(file.names[order[i]]), w, fail)]));
  }
  const extra = [...saved.keys()].filter((name) => !used.has(name));
  if (extra.length > 0) fail(`has saved weights for layer${extra.length > 1 ? "s" : ""} ${show(extra)} that the model built from its config does not have`, "E_MODEL");
  for (const [w, data] of pending) {
    const t = tf.tensor(data, w.shape as number[], "float32");
    w.write(t);
    t.dispose();
  }
}

/**
 * Builds the tf.LayersModel saved in a Keras 2.x HDF5 file
 * (`model.save("m.h5")`), with the file's weights.
 *
 * @param bytes the whole file
 * @param source where it came from, for messages (a path or URL)
 * @returns a tf.LayersModel (a tf.Sequential for a Keras Sequential model)
 * @throws SlimlabError E_FILE for a file that is not HDF5 (a Keras 3
 *   .keras zip is named as such), a damaged HDF5 file, one without
 *   model_config (a weights-only file from save_weights is named as such),
 *   or one written by Keras 1 or 3; E_MODEL for a layer class tfjs does
 *   not have (named), a config tfjs cannot build, or saved weights that do
 *   not fit the model (layer, weight and both shapes named)
 * @example
 *   const m = await loadKerasH5(await fs.readFile("mnist.h5"), "mnist.h5");
 */
export async function loadKerasH5(bytes: Uint8Array | ArrayBuffer, source: string): Promise<tf.LayersModel> {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const where = show(source);
  const fail: Fail = (message, code = "E_FILE") => {
    throw new SlimlabError(code, `${fn}: ${where} ${message}`);
  };
  if (startsWith(view, ZIP_SIGNATURE)) {
    fail("is a zip archive (the Keras 3 .keras format), not HDF5, and is not supported; save the model as .h5 from tf.keras (Keras 2.x), or convert it to a tfjs model.json");
  }
  if (!startsWith(view, HDF5_SIGNATURE)) fail(`is not an HDF5 file (${view.length} bytes without the HDF5 signature); expected a Keras .h5 file from model.save("m.h5")`);
  const length = declaredLength(view);
  if (length !== undefined && view.length < length) fail(`is truncated: its HDF5 header gives ${length} bytes but it has ${view.length}`);
  // jsfive reads through a DataView of the whole buffer: give it exactly the file's bytes.
  const buffer = view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength) as ArrayBuffer;
  let root: hdf5.File;
  let read: { config: Record<string, unknown>; kerasVersion?: string; backend?: string };
  let saved: Map<string, SavedLayer>;
  try {
    root = new hdf5.File(buffer, source);
    read = readConfig(root, fail);
    checkClasses(read.config, fail);
    checkGraph(read.config, fail);
    const group = root.keys.includes("model_weights") ? root.get("model_weights") : undefined;
    if (!(group instanceof hdf5.Group)) fail("has a model_config but no model_weights group, so there are no weights to load");
    saved = readWeights(group, fail);
  } catch (e) {
    if (isSlimlabError(e)) throw e;
    fail(`is a damaged or truncated HDF5 file (${reason(e)})`);
  }
  let model: tf.LayersModel;
  try {
    model = await tf.models.modelFromJSON({ modelTopology: { model_config: read.config, keras_version: read.kerasVersion, backend: read.backend } as tf.io.ModelJSON["modelTopology"] } as tf.io.ModelJSON);
  } catch (e) {
    fail(`has a ${String(read.config.class_name)} config tfjs cannot build: ${reason(e)}`, "E_MODEL");
  }
  try {
    assignWeights(model, saved, fail);
  } catch (e) {
    model.dispose();
    if (isSlimlabError(e)) throw e;
    fail(`could not take its weights: ${reason(e)}`, "E_MODEL");
  }
  return model;
}
