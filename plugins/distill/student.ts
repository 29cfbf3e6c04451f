/**
 * Students built from the teacher's own architecture: the same layers in the
 * same order, every hidden Dense / convolution / recurrent layer w times as
 * wide, fresh seeded weights. Hinton et al. 2015 (§3) distil a 2×1200 MLP
 * into a 2×800 one, i.e. w = 2/3.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show } from "../core/errors";
import { fitsNumberRule, NumberRule } from "../core/magic";
import { checkSeed, mulberry32, Random } from "../data/random";
import { isSequential, modelConfig, modelFromConfig } from "../toolkit/clone";
import { requireModel } from "../toolkit/layers";

/** Width factors allowed: > 0 (also the limits of %distill --student-width). */
export const WIDTH: NumberRule = { above: 0 };

/** Layer classes whose width is one config field, and that field. */
const WIDTH_FIELD: Readonly<Record<string, "units" | "filters">> = {
  Dense: "units",
  Conv1D: "filters",
  Conv2D: "filters",
  Conv3D: "filters",
  Conv2DTranspose: "filters",
  SeparableConv2D: "filters",
  LSTM: "units",
  GRU: "units",
  SimpleRNN: "units",
};

/** Initializer classes that take a seed (Glorot, He and LeCun serialise as VarianceScaling). */
const SEEDED_INITIALIZERS = new Set(["VarianceScaling", "RandomNormal", "RandomUniform", "TruncatedNormal", "Orthogonal"]);

/**
 * The layer that fixes the output width: the model's output layer, or the
 * nearest widened layer before it when the output layer has no width of its
 * own (Activation("softmax"), Dropout, GlobalAveragePooling after a conv).
 */
function outputWidthLayer(model: tf.LayersModel): string | undefined {
  let layer: tf.layers.Layer | undefined = model.outputs[0].sourceLayer as tf.layers.Layer;
  while (layer !== undefined) {
    if (WIDTH_FIELD[layer.getClassName()] !== undefined) return layer.name;
    const inbound: tf.layers.Layer[] = layer.inboundNodes[0]?.inboundLayers ?? [];
    layer = inbound.length === 1 ? inbound[0] : undefined;
  }
  return undefined;
}

/** Gives every seedable initializer below `node` its own seed from `rand` (changes `node`). */
function reseed(node: unknown, rand: Random): void {
  if (Array.isArray(node)) return node.forEach((n) => reseed(n, rand));
  if (typeof node !== "object" || node === null) return;
  const o = node as Record<string, unknown>;
  const cfg = o.config as Record<string, unknown> | undefined;
  if (typeof o.className === "string" && SEEDED_INITIALIZERS.has(o.className) && typeof cfg === "object" && cfg !== null) {
    cfg.seed = Math.floor(rand() * 2 ** 31);
  }
  Object.values(o).forEach((v) => reseed(v, rand));
}

/**
 * Checks a student width factor: a finite number > 0.
 *
 * @param width what the caller passed
 * @returns the width
 * @throws SlimlabError E_ARG naming the value
 * @example
 *   checkWidth(0.5); // 0.5
 */
export function checkWidth(width: unknown): number {
  if (!fitsNumberRule(width, WIDTH)) {
    throw new SlimlabError("E_ARG", `distill: studentWidth ${show(width)} is not allowed: pass a number > 0, e.g. 0.5 for half the units and filters`);
  }
  return width;
}

/**
 * A narrower copy of `teacher`'s architecture with fresh weights: every
 * Dense (units), convolution (filters) and LSTM/GRU/SimpleRNN (units) layer
 * gets max(1, round(width × its width)), except the one that fixes the
 * output, which keeps its units so the student predicts the same classes.
 * Other layers (pooling, dropout, batch norm, activations) are copied as
 * they are; their sizes follow from the new widths. Initializers that take a
 * seed are re-seeded from `seed`, so the same seed gives bit-identical weights.
 *
 * @param teacher a built single-output tf.LayersModel (not changed)
 * @param width factor > 0 applied to layer widths, e.g. 0.5
 * @param seed integer seed of the initial weights
 * @returns a new, uncompiled model of the same class (Sequential stays Sequential), named "<teacher>_student"
 * @throws SlimlabError E_ARG for a width that is not a number > 0 or a bad seed;
 *   E_MODEL when the narrowed architecture cannot be built (e.g. a residual
 *   Add whose other input keeps its width: pass a student model instead)
 * @example
 *   const student = narrowStudent(mlp([1200, 1200], { seed: 1 }), 2 / 3, 7); // 784-800-800-10
 */
export function narrowStudent(teacher: tf.LayersModel, width: number, seed: number): tf.LayersModel {
  const m = requireModel(teacher, "narrowStudent");
  checkWidth(width);
  checkSeed(seed, "distill: seed");
  const keep = outputWidthLayer(m);
  const config = modelConfig(m);
  const layers = (config.layers ?? []) as unknown as { className: string; config: Record<string, unknown> }[];
  for (const layer of layers) {
    const field = WIDTH_FIELD[layer.className];
    if (field === undefined || layer.config.name === keep) continue;
    const current = layer.config[field];
    if (typeof current === "number") layer.config[field] = Math.max(1, Math.round(current * width));
  }
  reseed(layers, mulberry32(seed));
  config.name = `${m.name}_student`;
  try {
    return modelFromConfig(config, isSequential(m), "distill", false);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new SlimlabError("E_MODEL", `${why}; studentWidth ${width} changes layer widths that other layers depend on: build the student yourself and pass it`);
  }
}

/**
 * Units or filters of each widened layer, by name (for reports and tests).
 *
 * @param model any built LayersModel
 * @returns e.g. { fc1: 800, fc2: 800, fc3: 10 }
 * @example
 *   layerWidths(mlp([300, 100])); // { fc1: 300, fc2: 100, fc3: 10 }
 */
export function layerWidths(model: tf.LayersModel): Record<string, number> {
  const out: Record<string, number> = {};
  for (const layer of model.layers) {
    const field = WIDTH_FIELD[layer.getClassName()];
    const value = field === undefined ? undefined : (layer.getConfig() as Record<string, unknown>)[field];
    if (typeof value === "number") out[layer.name] = value;
  }
  return out;
}
