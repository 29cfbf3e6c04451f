/**
 * Inserting FakeQuant layers into a model's topology, before or after named
 * layers, by editing its config and rebuilding (the weights are copied by
 * layer name). Works for Sequential and functional models whose layers are
 * each called once.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { inherit, isSequential, modelConfig, modelFromConfig } from "../toolkit/clone";
import { FakeQuant, FakeQuantConfig, registerQuantizeLayers } from "./fake-quant";

/** Where to put one FakeQuant layer. */
export interface Insertion {
  /** The existing layer it attaches to. */
  layer: string;
  /** "after": quantize the layer's output; "before": quantize its input. */
  where: "before" | "after";
  config: FakeQuantConfig;
}

type Entry = { name?: string; className: string; config: tf.serialization.ConfigDict; inboundNodes?: unknown[][] };

const INPUT_KEYS = ["batchInputShape", "inputShape", "inputDType", "dtype"] as const;

function fqEntry(name: string, c: FakeQuantConfig, extra: tf.serialization.ConfigDict = {}): Entry {
  return { className: FakeQuant.className, config: { name, trainable: false, bits: c.bits, mode: c.mode, min: c.min ?? 0, max: c.max ?? 0, ...extra } };
}

/** Replaces references to `from` (node 0) by `to` in inbound node lists and output lists. */
function rewire(refs: unknown, from: string, to: string): void {
  if (!Array.isArray(refs)) return;
  if (refs.length >= 3 && refs[0] === from && typeof refs[1] === "number") {
    refs[0] = to;
    refs[1] = 0;
    return;
  }
  refs.forEach((r) => rewire(r, from, to));
}

/**
 * A new model with FakeQuant layers inserted, weights copied by layer name.
 *
 * @param model source model (not changed)
 * @param insertions where and how
 * @param fn the public function's name
 * @returns the new model, compiled like the source if it was, with its pruning masks
 * @throws SlimlabError E_MODEL when a named layer is missing or called more than once
 * @example
 *   const m2 = insertFakeQuant(m, [{ layer: "fc1", where: "after", config: { bits: 8, mode: "static", min: 0, max: 6 } }], "quantize");
 */
export function insertFakeQuant(model: tf.LayersModel, insertions: readonly Insertion[], fn: string): tf.LayersModel {
  registerQuantizeLayers();
  const config = modelConfig(model) as tf.serialization.ConfigDict & { layers: Entry[]; outputLayers?: unknown };
  const sequential = isSequential(model);
  for (const ins of insertions) {
    const layer = model.layers.find((l) => l.name === ins.layer);
    if (layer === undefined) throw new SlimlabError("E_MODEL", `${fn}: model "${model.name}" has no layer ${ins.layer}`);
    if (layer.inboundNodes.length > 1) throw new SlimlabError("E_MODEL", `${fn}: layer ${ins.layer} is called ${layer.inboundNodes.length} times; fake quantization supports layers called once`);
    const fqName = `${ins.layer}_fq_${ins.where === "after" ? "out" : "in"}`;
    const at = config.layers.findIndex((e) => (e.name ?? e.config.name) === ins.layer);
    const entry = config.layers[at];
    if (sequential) {
      if (ins.where === "after") {
        config.layers.splice(at + 1, 0, fqEntry(fqName, ins.config));
      } else {
        // The first layer carries the input shape: move it to the new first layer.
        const extra: tf.serialization.ConfigDict = {};
        for (const k of INPUT_KEYS) {
          if (entry.config[k] !== undefined && at === 0) {
            extra[k] = entry.config[k];
            delete entry.config[k];
          }
        }
        config.layers.splice(at, 0, fqEntry(fqName, ins.config, extra));
      }
      continue;
    }
    if (ins.where === "after") {
      for (const e of config.layers) rewire(e.inboundNodes, ins.layer, fqName);
      rewire(config.outputLayers, ins.layer, fqName);
      config.layers.splice(at + 1, 0, { ...fqEntry(fqName, ins.config), name: fqName, inboundNodes: [[[ins.layer, 0, 0, {}]]] });
    } else {
      const inbound = entry.inboundNodes ?? [];
      config.layers.splice(at, 0, { ...fqEntry(fqName, ins.config), name: fqName, inboundNodes: inbound });
      entry.inboundNodes = [[[fqName, 0, 0, {}]]];
    }
  }
  const out = modelFromConfig(config, sequential, fn);
  for (const layer of model.layers) {
    if (layer.weights.length > 0) out.getLayer(layer.name).setWeights(layer.getWeights());
  }
  inherit(out, model);
  return out;
}
