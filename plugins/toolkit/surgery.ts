/**
 * Model surgery: build a new model from an existing one with some layers
 * narrowed, replaced or removed. Structured pruning (physically dropping
 * filters, so the model really gets smaller and faster) and batch-norm
 * folding are both expressed as a list of edits handed to rebuild(); the
 * original model is never changed (house rule 5).
 *
 * How: take the model's Keras-style config, edit it (widths, classes,
 * connections), let tfjs rebuild the graph from it, then load weights sliced
 * by the channel rules of channels.ts.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show, suggestion } from "../core/errors";
import { CUTTABLE, Kept, inputShapes, propagate } from "./channels";
import { inherit, isSequential, modelConfig, modelFromConfig } from "./clone";
import { requireModel } from "./layers";

/** Keep only these output channels (units/filters) of a Dense, Conv1D, Conv2D or SeparableConv2D. */
export interface KeepEdit {
  op: "keep";
  layer: string;
  /** Indices of the output channels to keep, unique, in the order they should appear. */
  channels: readonly number[];
}

/** Swap a layer for another one built from a config (the layer keeps its name and connections). */
export interface ReplaceEdit {
  op: "replace";
  layer: string;
  /** tfjs class name of the new layer, e.g. "Conv2D". */
  className: string;
  /** Its config as `layer.getConfig()` returns it; `name` is forced to the old layer's name. */
  config: tf.serialization.ConfigDict;
  /** Its weights in tfjs order (borrowed, not disposed); default: its initialisers run. */
  weights?: tf.Tensor[];
}

/** Take a layer out, feeding its consumers with its input; only for layers whose input and output shapes match. */
export interface RemoveEdit {
  op: "remove";
  layer: string;
}

export type Edit = KeepEdit | ReplaceEdit | RemoveEdit;

const OPS: readonly Edit["op"][] = ["keep", "replace", "remove"];

/** One entry of a model config's "layers" list (functional entries have name and inboundNodes). */
interface LayerEntry {
  name?: string;
  className: string;
  config: tf.serialization.ConfigDict;
  inboundNodes?: NodeRef[][];
}
/** [layerName, nodeIndex, tensorIndex, kwargs] as Keras configs store a call's inputs. */
type NodeRef = [string, number, number, unknown?];

function entryName(e: LayerEntry): string {
  return e.name ?? (e.config.name as string);
}

function sameShape(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Checks the edits against the model; returns them by layer name. */
function checkEdits(model: tf.LayersModel, edits: readonly Edit[]): Map<string, Edit> {
  if (!Array.isArray(edits)) {
    throw new SlimlabError("E_TYPE", `rebuild: edits must be an array of {op, layer, ...}, received ${show(edits)}`);
  }
  const names = model.layers.map((l) => l.name);
  const byName = new Map<string, Edit>();
  for (const edit of edits) {
    if (!OPS.includes(edit?.op)) {
      throw new SlimlabError("E_ARG", `rebuild: unknown edit op ${show(edit?.op)}; allowed: ${OPS.join(", ")}`);
    }
    if (!names.includes(edit.layer)) {
      throw new SlimlabError("E_ARG", `rebuild: no layer named ${show(edit.layer)}${suggestion(String(edit.layer), names)}; layers: ${names.join(", ")}`);
    }
    if (byName.has(edit.layer)) {
      throw new SlimlabError("E_ARG", `rebuild: layer "${edit.layer}" has more than one edit; combine them into one`);
    }
    byName.set(edit.layer, edit);
    const layer = model.getLayer(edit.layer);
    const cls = layer.getClassName();
    if (edit.op === "keep") checkKeep(edit, layer, cls);
    if (edit.op === "replace" && (typeof edit.className !== "string" || typeof edit.config !== "object" || edit.config === null)) {
      throw new SlimlabError("E_ARG", `rebuild: replace of "${edit.layer}" needs className (a string) and config (an object), received ${show(edit.className)} and ${show(edit.config)}`);
    }
    if (edit.op === "remove") {
      if (cls === "InputLayer") throw new SlimlabError("E_ARG", `rebuild: cannot remove input layer "${edit.layer}"`);
      const shapeIn = inputShapes(layer);
      if (shapeIn.length !== 1 || !sameShape(shapeIn[0], layer.outputShape)) {
        throw new SlimlabError(
          "E_MODEL",
          `rebuild: cannot remove "${edit.layer}" (${cls}): its input shape ${JSON.stringify(shapeIn.length === 1 ? shapeIn[0] : shapeIn)} differs from its output shape ${JSON.stringify(layer.outputShape)}; only shape-preserving layers can be bypassed`
        );
      }
    }
  }
  return byName;
}

function checkKeep(edit: KeepEdit, layer: tf.layers.Layer, cls: string): void {
  if (!(cls in CUTTABLE)) {
    throw new SlimlabError(
      "E_ARG",
      `rebuild: keep applies to ${Object.keys(CUTTABLE).join(", ")}; layer "${edit.layer}" is ${cls} (cut the layer that produces its channels instead)`
    );
  }
  const width = (layer.getConfig() as Record<string, number>)[CUTTABLE[cls]];
  const ch = edit.channels;
  const bad = Array.isArray(ch) ? ch.find((c) => !Number.isInteger(c) || c < 0 || c >= width) : undefined;
  if (!Array.isArray(ch) || ch.length === 0 || bad !== undefined || new Set(ch).size !== ch.length) {
    throw new SlimlabError(
      "E_ARG",
      `rebuild: keep channels for "${edit.layer}" must be a non-empty list of distinct integers in [0, ${width}), received ${show(ch)}${bad !== undefined ? ` (${bad} is out of range)` : ""}`
    );
  }
}

/** Names of the layers feeding each layer (first call only; shared layers are refused). */
function inboundNames(entries: LayerEntry[], sequential: boolean): Map<string, string[]> {
  const map = new Map<string, string[]>();
  entries.forEach((e, i) => {
    const name = entryName(e);
    if (sequential) {
      map.set(name, i === 0 ? [] : [entryName(entries[i - 1])]);
      return;
    }
    const nodes = e.inboundNodes ?? [];
    if (nodes.length > 1) {
      throw new SlimlabError("E_MODEL", `rebuild: layer "${name}" is called ${nodes.length} times in the model; shared layers are not supported`);
    }
    map.set(name, (nodes[0] ?? []).map((ref) => ref[0]));
  });
  return map;
}

/** Rewrites a functional or Sequential config so that `name` is bypassed. */
function bypass(config: tf.serialization.ConfigDict, sequential: boolean, name: string): void {
  const entries = config.layers as unknown as LayerEntry[];
  const at = entries.findIndex((e) => entryName(e) === name);
  const [removed] = entries.splice(at, 1);
  if (entries.length === 0) throw new SlimlabError("E_MODEL", `rebuild: removing "${name}" would leave the model without layers`);
  if (sequential) {
    // The first layer of a Sequential carries the model's input shape: hand it on.
    const shape = removed.config.batchInputShape;
    if (at === 0 && shape !== undefined && entries[0].config.batchInputShape === undefined) {
      entries[0].config.batchInputShape = shape;
      entries[0].config.dtype = removed.config.dtype ?? null;
    }
    return;
  }
  const src = (removed.inboundNodes ?? [])[0]?.[0];
  if (src === undefined) throw new SlimlabError("E_MODEL", `rebuild: layer "${name}" has no input to connect its consumers to`);
  const redirect = (ref: NodeRef): NodeRef => (ref[0] === name ? [src[0], src[1], src[2], ref[3] ?? {}] : ref);
  for (const e of entries) e.inboundNodes = (e.inboundNodes ?? []).map((node) => node.map(redirect));
  const outputs = config.outputLayers as unknown as NodeRef[];
  config.outputLayers = outputs.map((ref) => (ref[0] === name ? [src[0], src[1], src[2]] : ref)) as unknown as tf.serialization.ConfigDictArray;
}

/**
 * Builds a new model from `model` with the given edits applied:
 * - `{op: "keep", layer, channels}` narrows a Dense/Conv1D/Conv2D/
 *   SeparableConv2D to those output channels and cuts the matching input
 *   slices of everything downstream: through BatchNormalization, pooling,
 *   Dropout, activations, DepthwiseConv2D, Concatenate and Flatten (where
 *   channel c of an [H, W, C] map is every flattened index p·C + c), up to
 *   the next Dense/Conv layer, whose kernel loses the matching input rows.
 * - `{op: "replace", layer, className, config, weights?}` swaps one layer
 *   (same name, same connections), e.g. a Conv2D with a BN folded in.
 * - `{op: "remove", layer}` bypasses a shape-preserving layer.
 *
 * @param model a built Sequential or functional tf.LayersModel (not changed)
 * @param edits at most one edit per layer
 * @returns a new model of the same class with new variables, compiled like
 *   the original if it was compiled, with the original's pruning masks on
 *   the weights of unedited layers and of layers replaced with given
 *   weights of the same shapes (those must be zero where the masks are,
 *   as a folded batch norm's are); cut layers get none (strip slices them)
 * @throws SlimlabError E_ARG for an unknown layer or op, a keep on a layer
 *   that cannot be cut, bad channel indices, two edits on one layer, a
 *   replaced layer that receives cut channels; E_MODEL when a cut reaches a
 *   layer it cannot pass (Reshape, softmax, merges of differently cut
 *   branches, shared layers), a removed layer changes shape, or tfjs cannot
 *   build the edited graph
 * @example
 *   // keep filters 0, 2 and 5 of conv1; the next layers shrink to match
 *   const small = rebuild(model, [{op: "keep", layer: "conv1", channels: [0, 2, 5]}]);
 */
export function rebuild(model: tf.LayersModel, edits: readonly Edit[]): tf.LayersModel {
  const m = requireModel(model, "rebuild");
  const byName = checkEdits(m, edits);
  const sequential = isSequential(m);
  const config = modelConfig(m);
  const entries = config.layers as unknown as LayerEntry[];
  const inbound = inboundNames(entries, sequential);

  const kept = new Map<string, Kept>();
  const newWeights = new Map<string, tf.Tensor[]>();
  /** Layers whose weights are re-made (cut, or replaced without weights): their old masks no longer fit. */
  const remade = new Set<string>();
  const owned: tf.Tensor[] = [];
  let fastInit = true;
  try {
    for (const entry of entries) {
      const name = entryName(entry);
      const layer = m.getLayer(name);
      const ins = (inbound.get(name) ?? []).map((n) => kept.get(n) ?? null);
      const edit = byName.get(name);
      if (edit?.op === "remove") {
        kept.set(name, ins[0] ?? null);
        continue;
      }
      if (edit?.op === "replace") {
        if (ins.some((k) => k !== null)) {
          throw new SlimlabError("E_ARG", `rebuild: layer "${name}" is replaced and also receives cut channels from upstream; rebuild in two steps`);
        }
        const old = entry.config;
        entry.className = edit.className;
        entry.config = { ...edit.config, name };
        if (old.batchInputShape !== undefined && entry.config.batchInputShape === undefined) entry.config.batchInputShape = old.batchInputShape;
        if (edit.weights !== undefined) newWeights.set(name, edit.weights);
        else {
          fastInit = false;
          remade.add(name);
        }
        kept.set(name, null);
        continue;
      }
      const step = propagate(layer, ins, edit?.op === "keep" ? edit.channels : undefined);
      kept.set(name, step.out);
      if (step.config !== undefined) Object.assign(entry.config, step.config);
      if (step.weights !== undefined) {
        remade.add(name);
        newWeights.set(name, step.weights);
        owned.push(...step.weights.filter((t) => !(t instanceof tf.Variable)));
      }
    }
    for (const entry of [...entries]) {
      const name = entryName(entry);
      if (byName.get(name)?.op === "remove") bypass(config, sequential, name);
    }
    const out = modelFromConfig(config, sequential, "rebuild", fastInit);
    for (const layer of out.layers) {
      const values = newWeights.get(layer.name);
      if (values !== undefined) setWeightsChecked(layer, values);
      else if (byName.get(layer.name)?.op !== "replace" && layer.weights.length > 0) layer.setWeights(m.getLayer(layer.name).getWeights());
    }
    inherit(out, m, (weight) => !remade.has(weight.slice(0, weight.lastIndexOf("/"))));
    return out;
  } finally {
    tf.dispose(owned);
  }
}

function setWeightsChecked(layer: tf.layers.Layer, values: tf.Tensor[]): void {
  const want = layer.weights.map((w) => w.shape);
  const got = values.map((v) => v.shape);
  if (!sameShape(want, got)) {
    throw new SlimlabError(
      "E_MODEL",
      `rebuild: layer "${layer.name}" (${layer.getClassName()}) needs weights of shapes ${JSON.stringify(want)}, received ${JSON.stringify(got)}`
    );
  }
  layer.setWeights(values);
}
