/**
 * Turning a parsed .slim file into a tf.LayersModel.
 *
 * tfjs itself is a parameter, not an import: Node passes the module, a
 * browser page its global `tf`. The model is built from the stored
 * topology with tfjs' fast weight initialisation (zeros, as
 * tf.loadLayersModel does when weights follow), then each weight is
 * decoded into a fresh Float32Array that becomes the variable's value, one
 * tensor at a time, so no second float32 copy of the weights is made.
 *
 * model.json stores the topology in Keras' snake_case form; tfjs converts
 * it before calling fromConfig, and so does `topologyConfig` below, by the
 * same rules: keys become camelCase, and so do string values, except a
 * "name" and the layer names that open inbound-node and input/output
 * references.
 */
import type * as tfjs from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { SlimFile } from "./container";
import { decodeTensor } from "./decode";

/** The tfjs namespace (the module in Node, the page's `tf` in a browser). */
export type Tf = typeof tfjs;

/** snake_case → camelCase: runs of "_" are dropped and the character after each run is upper-cased. */
function camel(s: string): string {
  if (s.length <= 1 || !s.includes("_")) return s;
  return s.replace(/_+(\w|$)/g, (_, c: string) => c.toUpperCase());
}

const REFERENCE_KEYS = new Set(["inboundNodes", "inputLayers", "outputLayers"]);

/**
 * A model.json topology converted to the config LayersModel.fromConfig
 * takes (see module comment).
 *
 * @param value the topology, or a part of it
 * @param key the (converted) key it sits under
 * @returns a converted deep copy
 * @example
 *   topologyConfig({ class_name: "Dense", config: { kernel_size: 3, name: "my_fc" } });
 *   // { className: "Dense", config: { kernelSize: 3, name: "my_fc" } }
 */
export function topologyConfig(value: unknown, key?: string): unknown {
  if (typeof value === "string") return camel(value);
  if (Array.isArray(value)) {
    return value.map((item, i) => (i === 0 && typeof item === "string" && key !== undefined && REFERENCE_KEYS.has(key) ? item : topologyConfig(item, key)));
  }
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === "name" && typeof v === "string") out[k] = v;
    else out[camel(k)] = topologyConfig(v, camel(k));
  }
  return out;
}

type FromConfig = (cls: unknown, config: tfjs.serialization.ConfigDict, customObjects: object, fastWeightInit: boolean) => unknown;

/**
 * Builds the model a parsed file describes and fills in its weights.
 *
 * @param tf the tfjs namespace
 * @param file a file checked by parseSlim
 * @param label the file, for messages
 * @returns the model, its weights bit-identical to what was saved
 * @throws SlimlabError E_FILE when tfjs cannot build the topology (e.g. a
 *   layer class that is not registered), when the tensor table does not
 *   match the model's weights, or when a section does not decode
 * @example
 *   const model = buildModel(tf, parseSlim(bytes, "m.slim"), "m.slim");
 */
export function buildModel(tf: Tf, file: SlimFile, label: string): tfjs.LayersModel {
  const fail = (problem: string, fix = "re-save it"): never => {
    throw new SlimlabError("E_FILE", `loadSlim: ${label} ${problem}; ${fix}`);
  };
  let topology = file.header.modelTopology as Record<string, unknown>;
  if (topology.model_config != null) topology = topology.model_config as Record<string, unknown>;
  const config = topologyConfig(topology) as { className?: unknown; config?: unknown };
  const className = String(config.className);
  const known = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (known === undefined || typeof config.config !== "object" || config.config === null) {
    return fail(`has a topology of class ${JSON.stringify(className)}, which tfjs does not know`, "load it where that class is registered (tf.serialization.registerClass)");
  }
  let model: tfjs.LayersModel;
  try {
    model = (known[1] as unknown as FromConfig)(known[0], config.config as tfjs.serialization.ConfigDict, {}, true) as tfjs.LayersModel;
  } catch (e) {
    return fail(`has a topology tfjs cannot build: ${(e as Error).message.split("\n")[0]}`, "load it where its layer classes are registered, or re-save it");
  }
  try {
    if (file.header.trainingConfig != null) model.loadTrainingConfig(file.header.trainingConfig as Parameters<tfjs.LayersModel["loadTrainingConfig"]>[0]);
    if (file.header.userDefinedMetadata != null) model.setUserDefinedMetadata(file.header.userDefinedMetadata as object);
    fillWeights(tf, model, file, label, fail);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

function fillWeights(tf: Tf, model: tfjs.LayersModel, file: SlimFile, label: string, fail: (p: string, fix?: string) => never): void {
  const variables = new Map<string, tfjs.LayerVariable>();
  for (const v of model.weights) variables.set(v.originalName, v);
  const entries = file.header.tensors;
  for (const e of entries) {
    const v = variables.get(e.name);
    if (v === undefined) fail(`stores weight ${e.name}, which its model does not have`);
    else if (v.shape.join() !== e.shape.join()) fail(`stores weight ${e.name} with shape [${e.shape}] but the model's is [${v.shape}]`);
    else if (v.dtype !== "float32") fail(`stores weight ${e.name} as float32 but the model's is ${v.dtype}`);
  }
  if (entries.length !== variables.size) {
    const stored = new Set(entries.map((e) => e.name));
    const missing = [...variables.keys()].filter((n) => !stored.has(n));
    fail(`has no values for weight${missing.length > 1 ? "s" : ""} ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", ..." : ""}`);
  }
  for (const e of entries) {
    const values = decodeTensor(e, file.payload, label);
    const v = variables.get(e.name) as tfjs.LayerVariable;
    tf.tidy(() => {
      v.write(tf.tensor(values, e.shape, "float32"));
    });
  }
}
