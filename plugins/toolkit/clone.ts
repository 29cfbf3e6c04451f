/**
 * Deep copies of LayersModels: same topology, same weight values, new
 * variables. Every technique that "returns a new model and leaves the user's
 * variable untouched" (house rule 5) starts here.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { requireModel, weightRole } from "./layers";

/**
 * Whether `model` is a tf.Sequential, so that copies can stay Sequential
 * (users call `add` and `pop` on them).
 *
 * @param model any LayersModel
 * @returns true for Sequential models, also from another copy of tfjs
 * @example
 *   isSequential(tf.sequential()); // true
 */
export function isSequential(model: tf.LayersModel): boolean {
  return model instanceof tf.Sequential || model.getClassName() === "Sequential";
}

/** Depth multiplier of the SeparableConv2D named `name`, read from its depthwise kernel [kh, kw, in, m]. */
function separableMultiplier(model: tf.LayersModel, name: unknown): number | undefined {
  for (const layer of model.layers) {
    if (layer.name === name) {
      const dk = layer.weights.find((w) => weightRole(w) === "depthwise_kernel");
      return dk?.shape[3] ?? undefined;
    }
    if (layer instanceof tf.LayersModel) {
      const inner = separableMultiplier(layer, name);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

/**
 * Puts `depthMultiplier` back into SeparableConv2D configs. tfjs 4.22's
 * SeparableConv.getConfig omits it although the constructor reads it, so a
 * model rebuilt from its config (clone, load) gets multiplier 1 and its
 * saved weights no longer fit. Works on getConfig() output (camelCase) and on
 * saved topologies (snake_case); changes `config` in place.
 *
 * @param config a model config or modelTopology
 * @param model the live model, whose depthwise kernels give the multipliers
 * @example
 *   restoreDepthMultipliers(artifacts.modelTopology, model);
 */
export function restoreDepthMultipliers(config: unknown, model: tf.LayersModel): void {
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== "object" || node === null) return;
    const o = node as Record<string, unknown>;
    const cfg = o.config as Record<string, unknown> | undefined;
    if ((o.className ?? o.class_name) === "SeparableConv2D" && typeof cfg === "object" && cfg !== null) {
      const key = "class_name" in o ? "depth_multiplier" : "depthMultiplier";
      const m = separableMultiplier(model, cfg.name);
      if (cfg[key] === undefined && m !== undefined) cfg[key] = m;
    }
    Object.values(o).forEach(visit);
  };
  visit(config);
}

/**
 * The model's config as a private deep copy, ready to edit and rebuild
 * (with the depth multipliers tfjs forgets restored).
 *
 * @param model a built LayersModel
 * @returns a config dict that can be changed freely
 * @example
 *   const cfg = modelConfig(m); // edit cfg.layers, then modelFromConfig(cfg, ...)
 */
export function modelConfig(model: tf.LayersModel): tf.serialization.ConfigDict {
  const config = structuredClone(model.getConfig());
  restoreDepthMultipliers(config, model);
  return config;
}

/**
 * Rebuilds a model from a config produced by `getConfig()` (possibly edited),
 * as a Sequential or a functional model.
 *
 * @param config a model config (camelCase, as getConfig returns it)
 * @param sequential build a tf.Sequential rather than a functional model
 * @param fn the public function's name, for messages
 * @param fastInit skip the initialisers (zeros) because the caller sets every weight
 * @returns the new, uncompiled model
 * @throws SlimlabError E_MODEL wrapping tfjs's error (bad shapes, unknown class)
 * @example
 *   const copy = modelFromConfig(modelConfig(m), isSequential(m), "myFn");
 */
export function modelFromConfig(
  config: tf.serialization.ConfigDict,
  sequential: boolean,
  fn: string,
  fastInit = true
): tf.LayersModel {
  try {
    const model = sequential
      ? tf.Sequential.fromConfig(tf.Sequential, config, {}, fastInit)
      : tf.LayersModel.fromConfig(tf.LayersModel, config, {}, fastInit);
    return model as tf.LayersModel;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new SlimlabError("E_MODEL", `${fn}: tfjs cannot rebuild the model from its config: ${why}`);
  }
}

/** A new optimizer of the same class and settings, with no slot state. */
function freshOptimizer(opt: tf.Optimizer): tf.Optimizer {
  const ctor = opt.constructor as unknown as tf.serialization.SerializableConstructor<tf.Optimizer> & {
    fromConfig(cls: unknown, config: tf.serialization.ConfigDict): tf.Optimizer;
  };
  return ctor.fromConfig(ctor, opt.getConfig());
}

/**
 * Compiles `copy` with the loss and metrics of `original` and a fresh
 * optimizer of the same class and settings, if `original` was compiled;
 * otherwise does nothing. The optimizer is new so that training the copy
 * does not move the original's Adam moments (and vice versa); disposing
 * `copy` disposes that optimizer.
 *
 * @param copy the model to compile (changed in place)
 * @param original the model whose compile settings to reuse
 * @example
 *   compileLike(pruned, model);
 */
export function compileLike(copy: tf.LayersModel, original: tf.LayersModel): void {
  const opt = original.optimizer as tf.Optimizer | undefined;
  if (opt == null || original.loss == null) return;
  copy.compile({ optimizer: freshOptimizer(opt), loss: original.loss, metrics: original.metrics });
  // compile() only owns optimizers it creates from a name; this one belongs
  // to the copy alone, so copy.dispose() must free its variables too (Adam
  // makes two at construction).
  (copy as unknown as { isOptimizerOwned: boolean }).isOptimizerOwned = true;
}

/**
 * Copies a model: same topology and layer names, weights copied into new
 * variables (changing one model's weights never changes the other's), and
 * compiled like the original if it was compiled.
 *
 * @param model a built Sequential or functional tf.LayersModel
 * @returns a model of the same class (Sequential stays Sequential) whose
 *   outputs equal the original's
 * @throws SlimlabError E_TYPE / E_MODEL as requireModel; E_MODEL if the
 *   topology cannot be rebuilt (e.g. a custom layer class not registered with
 *   tf.serialization.registerClass)
 * @example
 *   const copy = cloneModel(model);
 *   copy.layers[0].setWeights([...]); // model is unchanged
 */
export function cloneModel<T extends tf.LayersModel>(model: T): T {
  const m = requireModel(model, "cloneModel");
  const copy = modelFromConfig(modelConfig(m), isSequential(m), "cloneModel");
  // tfjs tensors are immutable and setWeights makes each new variable point
  // at the value's data (refcounted), so later writes to either model's
  // variables replace their own data only.
  m.layers.forEach((layer) => {
    if (layer.weights.length > 0) copy.getLayer(layer.name).setWeights(layer.getWeights());
  });
  compileLike(copy, m);
  return copy as T;
}
