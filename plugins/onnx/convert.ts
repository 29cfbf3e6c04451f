/**
 * tf.LayersModel → Graph (data). Walks the layers in topological order,
 * maps each layer's output to a graph value, folds BatchNormalization into
 * the conv/dense before it when that layer has no activation and no other
 * consumer, and (static int8) puts QuantizeLinear/DequantizeLinear on the
 * graph inputs and on every layer output that has a calibrated range.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { Context, QuantPlan, Value } from "./context";
import { Graph, GraphBuilder, GraphIO } from "./graph";
import { ACTIVATIONS, bnFold, CONVERTERS, FOLDABLE, Fold } from "./layers";

export interface ConvertOptions {
  opset: number;
  /** Fold BatchNormalization into the preceding conv/dense (default true). */
  foldBatchNorm?: boolean;
  quant?: QuantPlan;
  /** Name in messages. */
  fn: string;
}

type Node = { inputTensors: tf.SymbolicTensor[]; outputTensors: tf.SymbolicTensor[] };
const nodesOf = (l: tf.layers.Layer): Node[] => (l as unknown as { inboundNodes: Node[] }).inboundNodes;
const outNodesOf = (l: tf.layers.Layer): unknown[] => (l as unknown as { outboundNodes: unknown[] }).outboundNodes;

/** Layers whose output values are some of their input values: in static int8 they keep the input's scale and zero point. */
export const SAME_SCALE = ["MaxPooling2D", "GlobalMaxPooling2D", "Flatten", "Reshape"];

/** Layer classes the exporter converts. */
export const SUPPORTED = ["InputLayer", ...Object.keys(CONVERTERS)];

/**
 * The layers to export, checked: the model is built, every layer class has
 * a converter, activations are known, layers are not shared.
 *
 * @throws SlimlabError E_MODEL naming the first offending layer
 */
export function exportableLayers(model: unknown, fn: string): tf.layers.Layer[] {
  if (!(model instanceof tf.LayersModel)) throw new SlimlabError("E_TYPE", `${fn}: got ${typeof model === "object" ? model?.constructor?.name ?? "null" : typeof model}, not a tf.LayersModel; pass a model (e.g. lenet5())`);
  let inputs: tf.SymbolicTensor[] | undefined;
  try {
    inputs = model.inputs;
  } catch {
    inputs = undefined;
  }
  if (!inputs || inputs.length === 0) {
    throw new SlimlabError("E_MODEL", `${fn}: model "${model.name}" is not built (no input shape); give its first layer an inputShape or call model.build([null, ...]) before exporting`);
  }
  for (const l of model.layers) {
    const cls = l.getClassName();
    if (!SUPPORTED.includes(cls)) {
      throw new SlimlabError("E_MODEL", `${fn}: layer "${l.name}" (class ${cls}) has no ONNX converter; supported: ${SUPPORTED.filter((c) => c !== "InputLayer").join(", ")}; replace or remove the layer before exporting`);
    }
    const act = (l.getConfig() as { activation?: unknown }).activation;
    if (typeof act === "string" && !ACTIVATIONS.includes(act)) {
      throw new SlimlabError("E_MODEL", `${fn}: layer "${l.name}" (class ${cls}) has activation "${act}", which has no ONNX converter; allowed: ${ACTIVATIONS.join(", ")}`);
    }
    const cfg = l.getConfig() as { dataFormat?: unknown };
    if (cfg.dataFormat !== undefined && cfg.dataFormat !== "channelsLast") {
      throw new SlimlabError("E_MODEL", `${fn}: layer "${l.name}" (class ${cls}) uses dataFormat ${String(cfg.dataFormat)}; only channelsLast (tfjs' default) is exported`);
    }
    if (cls === "BatchNormalization") {
      const axis = (l.getConfig() as { axis?: number }).axis ?? -1;
      const rank = nodesOf(l)[0].inputTensors[0].shape.length;
      if (axis !== -1 && axis !== rank - 1) throw new SlimlabError("E_MODEL", `${fn}: layer "${l.name}" (class BatchNormalization) normalises axis ${axis}; only the last (channel) axis is exported`);
    }
    if (cls !== "InputLayer" && nodesOf(l).length !== 1) {
      throw new SlimlabError("E_MODEL", `${fn}: layer "${l.name}" (class ${cls}) is applied ${nodesOf(l).length} times (shared); export a model where each layer is used once`);
    }
  }
  return model.layers;
}

/** BN layer name → the layer it folds into, for BN layers that can be folded. */
function foldPlan(model: tf.LayersModel, layers: tf.layers.Layer[]): Map<string, tf.layers.Layer> {
  const outputs = new Set(model.outputs.map((t) => t.id));
  const plan = new Map<string, tf.layers.Layer>();
  for (const l of layers) {
    if (l.getClassName() !== "BatchNormalization") continue;
    const src = nodesOf(l)[0].inputTensors[0].sourceLayer;
    const act = (src.getConfig() as { activation?: unknown }).activation;
    const linear = act === undefined || act === "linear";
    const solo = outNodesOf(src).length === 1 && !outputs.has(nodesOf(src)[0].outputTensors[0].id);
    if (FOLDABLE.includes(src.getClassName()) && linear && solo) plan.set(l.name, src);
  }
  return plan;
}

/**
 * Converts a model to a graph.
 *
 * @param model a built tf.LayersModel of supported layers
 * @param opts opset, BN folding, quantization plan
 * @returns the graph (inputs named as the model's, batch dimension "N")
 * @throws SlimlabError E_MODEL for unsupported or unbuilt models
 */
export function convertModel(model: tf.LayersModel, opts: ConvertOptions): Graph {
  const layers = exportableLayers(model, opts.fn);
  const g = new GraphBuilder();
  const ctx = new Context(g, opts.opset, opts.quant);
  const values = new Map<number, Value>();
  const inputs: GraphIO[] = model.inputs.map((t, i) => {
    const name = g.fresh(t.name.replace(/:\d+$/, ""));
    const v: Value = { name, rank: t.shape.length, layout: "nhwc" };
    values.set(t.id, ctx.fakeQuant(v, opts.quant?.inputRanges[i]));
    return { name, dtype: "float32", shape: t.shape.map((d) => d ?? "N") };
  });
  const plan = opts.foldBatchNorm === false ? new Map<string, tf.layers.Layer>() : foldPlan(model, layers);
  const folds = new Map<string, Fold>([...plan].map(([bn, src]) => [src.name, bnFold(model.getLayer(bn))]));
  for (const l of layers) {
    if (l.getClassName() === "InputLayer") continue;
    const node = nodesOf(l)[0];
    const xs = node.inputTensors.map((t) => values.get(t.id)!);
    let y: Value;
    if (plan.has(l.name)) y = xs[0];
    else {
      y = CONVERTERS[l.getClassName()](ctx, l, xs, folds.get(l.name));
      const owner = [...plan].find(([, src]) => src.name === l.name)?.[0];
      if (SAME_SCALE.includes(l.getClassName()) && xs[0].q && opts.quant?.mode === "static") y = ctx.fakeQuantAs(y, xs[0].q);
      else y = ctx.fakeQuant(y, opts.quant?.ranges.get(owner ?? l.name));
    }
    values.set(node.outputTensors[0].id, y);
  }
  const outputs: GraphIO[] = model.outputs.map((t) => {
    const v = ctx.nhwc(values.get(t.id)!);
    const name = g.node("Identity", [v.name], t.name.replace(/\/.*$/, "").replace(/:\d+$/, "") + "_out");
    return { name, dtype: "float32", shape: t.shape.map((d) => d ?? "N") };
  });
  const q = opts.quant ? `int8 ${opts.quant.mode}, ${opts.quant.perChannel ? "per-channel" : "per-tensor"} symmetric weights` : "float32";
  return { name: model.name, nodes: g.nodes, initializers: g.initializers, inputs, outputs, opset: opts.opset, doc: `slimlab export of ${model.name} (${q})` };
}
