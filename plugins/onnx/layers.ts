/**
 * One converter per tfjs layer class: layer + input values → output value.
 * Weights are read from the layer (float32) and written through the
 * Context, which decides float or int8.
 */
import * as tf from "@tensorflow/tfjs";
import { Attr } from "./graph";
import { Context, Value, Weight } from "./context";

/** BatchNormalization folded into the layer before it: w' = w·scale, b' = b·scale + shift per output channel. */
export interface Fold {
  scale: Float32Array;
  shift: Float32Array;
}

type Cfg = Record<string, unknown>;
export type Converter = (ctx: Context, layer: tf.layers.Layer, xs: Value[], fold?: Fold) => Value;

const weightsOf = (layer: tf.layers.Layer): Weight[] =>
  layer.getWeights().map((t) => ({ values: t.dataSync() as Float32Array, shape: [...t.shape] }));

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v as number, v as number]);

/** The layer's input shape [N, H, W, C] (a built layer's only inbound shape). */
function inShape(layer: tf.layers.Layer): number[] {
  const s = (layer.input as tf.SymbolicTensor).shape;
  return s.map((d) => d ?? -1);
}

/** TensorFlow's "same"/"valid" padding as explicit ONNX pads [top, left, bottom, right]. */
function pads(padding: unknown, size: [number, number], k: [number, number], s: [number, number], d: [number, number]): number[] {
  if (padding !== "same") return [0, 0, 0, 0];
  const before: number[] = [];
  const after: number[] = [];
  for (let i = 0; i < 2; i++) {
    const out = Math.ceil(size[i] / s[i]);
    const total = Math.max((out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - size[i], 0);
    before.push(Math.floor(total / 2));
    after.push(total - Math.floor(total / 2));
  }
  return [...before, ...after];
}

/** Applies a tfjs activation by name. */
export function activate(ctx: Context, v: Value, activation: unknown, base: string): Value {
  const g = ctx.g;
  const name = typeof activation === "string" ? activation : "linear";
  const un = (op: string, attrs: Record<string, Attr> = {}): Value => ({ ...v, q: undefined, name: g.node(op, [v.name], `${base}_${op.toLowerCase()}`, attrs) });
  switch (name) {
    case "linear":
      return v;
    case "relu":
      return un("Relu");
    case "relu6":
      return { ...v, q: undefined, name: g.node("Clip", [v.name, g.floats(`${base}_lo`, [], [0]), g.floats(`${base}_hi`, [], [6])], `${base}_relu6`) };
    case "sigmoid":
      return un("Sigmoid");
    case "tanh":
      return un("Tanh");
    case "elu":
      return un("Elu", { alpha: { float: 1 } });
    case "selu":
      return un("Selu", { alpha: { float: 1.6732632423543772 }, gamma: { float: 1.0507009873554805 } });
    case "softplus":
      return un("Softplus");
    case "softsign":
      return un("Softsign");
    case "hardSigmoid":
    case "hard_sigmoid":
      return un("HardSigmoid", { alpha: { float: 0.2 }, beta: { float: 0.5 } });
    case "swish": {
      const s = g.node("Sigmoid", [v.name], `${base}_sig`);
      return { ...v, q: undefined, name: g.node("Mul", [v.name, s], `${base}_swish`) };
    }
    case "softmax": {
      const x = ctx.nhwc(v);
      return { ...x, q: undefined, name: g.node("Softmax", [x.name], `${base}_softmax`, { axis: { int: -1 } }) };
    }
  }
  throw new Error(`activation ${name}`);
}

/** Activation names `activate` knows. */
export const ACTIVATIONS = ["linear", "relu", "relu6", "sigmoid", "tanh", "elu", "selu", "softplus", "softsign", "hardSigmoid", "swish", "softmax"];

/** Folds per-output-channel BN into a kernel whose output channel is its innermost index modulo `c`, and into the bias. */
function folded(w: Weight, bias: Float32Array | undefined, c: number, fold?: Fold): { w: Weight; bias: Float32Array | undefined } {
  if (!fold) return { w, bias };
  const v = new Float32Array(w.values.length);
  for (let i = 0; i < v.length; i++) v[i] = w.values[i] * fold.scale[i % c];
  const b = new Float32Array(c);
  for (let i = 0; i < c; i++) b[i] = (bias ? bias[i] : 0) * fold.scale[i] + fold.shift[i];
  return { w: { values: v, shape: w.shape }, bias: b };
}

function dense(ctx: Context, layer: tf.layers.Layer, xs: Value[], fold?: Fold): Value {
  const cfg = layer.getConfig() as Cfg;
  const ws = weightsOf(layer);
  const units = ws[0].shape[1];
  const { w, bias } = folded(ws[0], cfg.useBias ? ws[1].values : undefined, units, fold);
  const x = ctx.nhwc(xs[0]);
  const g = ctx.g;
  const base = layer.name;
  let y: string;
  if (ctx.quant?.mode === "dynamic" && x.rank === 2) {
    // DynamicQuantizeLinear → MatMulInteger → Cast → Mul → Add: the pattern ORT fuses into DynamicQuantizeMatMul.
    const wq = ctx.int8Weight(`${base}_kernel`, w, 1, [0, 1]);
    const [xq, xscale, xz] = g.nodeN("DynamicQuantizeLinear", [x.name], [`${base}_xq`, `${base}_xscale`, `${base}_xzp`]);
    const acc = g.node("MatMulInteger", [xq, wq.codes, xz, wq.zeroPoint], `${base}_acc`);
    const accf = g.node("Cast", [acc], `${base}_accf`, { to: { int: 1 } });
    const s = g.node("Mul", [xscale, wq.scale], `${base}_rescale`);
    y = g.node("Mul", [accf, s], `${base}_mm`);
    if (bias) y = g.node("Add", [y, g.floats(`${base}_bias`, [units], bias)], `${base}_out`);
  } else {
    const wq = ctx.weight(`${base}_kernel`, w, 1, [0, 1], 1);
    if (x.rank === 2) {
      const inputs = [x.name, wq.name];
      if (bias) inputs.push(ctx.bias(`${base}_bias`, bias, x, wq));
      y = g.node("Gemm", inputs, `${base}_gemm`);
    } else {
      y = g.node("MatMul", [x.name, wq.name], `${base}_mm`);
      if (bias) y = g.node("Add", [y, g.floats(`${base}_bias`, [units], bias)], `${base}_out`);
    }
  }
  return activate(ctx, { name: y, rank: x.rank, layout: "nhwc" }, cfg.activation, base);
}

/** An ONNX Conv on an NCHW value; `kernel` is tfjs [kh, kw, in, out] or depthwise [kh, kw, in, m]. */
function convOp(ctx: Context, layer: tf.layers.Layer, x: Value, k: Weight, bias: Float32Array | undefined, depthwise: boolean, base: string): Value {
  const cfg = layer.getConfig() as Cfg;
  const shape = inShape(layer);
  const kernel = pair(cfg.kernelSize);
  const strides = pair(cfg.strides ?? 1);
  const dil = pair(cfg.dilationRate ?? 1);
  const [kh, kw, cin, m] = k.shape;
  // Depthwise [kh, kw, in, m] is read as [kh, kw, in·m] (output channel i·m + j, as tfjs) and written [in·m, 1, kh, kw].
  const w = depthwise
    ? ctx.weight(`${base}_kernel`, { values: k.values, shape: [kh, kw, cin * m] }, 2, [2, 0, 1], 0, [cin * m, 1, kh, kw])
    : ctx.weight(`${base}_kernel`, k, 3, [3, 2, 0, 1], 0);
  const wname = w.name;
  const xin = ctx.nchw(x);
  const inputs = [xin.name, wname];
  if (bias) inputs.push(ctx.bias(`${base}_bias`, bias, xin, w));
  const attrs: Record<string, Attr> = {
    kernel_shape: { ints: kernel },
    strides: { ints: strides },
    dilations: { ints: dil },
    pads: { ints: pads(cfg.padding, [shape[1], shape[2]], kernel, strides, dil) },
  };
  if (depthwise) attrs.group = { int: cin };
  return { name: ctx.g.node("Conv", inputs, `${base}_conv`, attrs), rank: 4, layout: "nchw" };
}

function conv2d(ctx: Context, layer: tf.layers.Layer, xs: Value[], fold?: Fold): Value {
  const cfg = layer.getConfig() as Cfg;
  const ws = weightsOf(layer);
  const { w, bias } = folded(ws[0], cfg.useBias ? ws[1].values : undefined, ws[0].shape[3], fold);
  return activate(ctx, convOp(ctx, layer, xs[0], w, bias, false, layer.name), cfg.activation, layer.name);
}

function depthwise(ctx: Context, layer: tf.layers.Layer, xs: Value[], fold?: Fold): Value {
  const cfg = layer.getConfig() as Cfg;
  const ws = weightsOf(layer);
  const c = ws[0].shape[2] * ws[0].shape[3];
  const { w, bias } = folded(ws[0], cfg.useBias ? ws[1].values : undefined, c, fold);
  return activate(ctx, convOp(ctx, layer, xs[0], w, bias, true, layer.name), cfg.activation, layer.name);
}

/**
 * SeparableConv2D = depthwise conv (the layer's strides, padding, dilation;
 * no bias) → 1×1 conv (+ bias). In static int8 the value between them is
 * quantized over its own calibrated range (QuantPlan.depthwiseRanges), so
 * both halves run as QLinearConv, as a DepthwiseConv2D followed by a 1×1
 * Conv2D would; the bias is then int32, as for the other convolutions.
 */
function separable(ctx: Context, layer: tf.layers.Layer, xs: Value[], fold?: Fold): Value {
  const cfg = layer.getConfig() as Cfg;
  const ws = weightsOf(layer);
  const dw = ctx.fakeQuant(convOp(ctx, layer, xs[0], ws[0], undefined, true, `${layer.name}_dw`), ctx.quant?.depthwiseRanges.get(layer.name));
  const { w, bias } = folded(ws[1], cfg.useBias ? ws[2].values : undefined, ws[1].shape[3], fold);
  const pw = ctx.weight(`${layer.name}_pw_kernel`, w, 3, [3, 2, 0, 1], 0);
  const inputs = [dw.name, pw.name];
  if (bias) inputs.push(ctx.bias(`${layer.name}_bias`, bias, dw, pw));
  const y = ctx.g.node("Conv", inputs, `${layer.name}_pw`, { kernel_shape: { ints: [1, 1] } });
  return activate(ctx, { name: y, rank: 4, layout: "nchw" }, cfg.activation, layer.name);
}

/**
 * The depthwise half of a SeparableConv2D as tfjs computes it (what the
 * static int8 export calibrates between the two ONNX convolutions).
 *
 * @param layer a built SeparableConv2D (channelsLast)
 * @returns x (NHWC, the layer's input) → depthwise output
 */
export function separableDepthwise(layer: tf.layers.Layer): (x: tf.Tensor) => tf.Tensor {
  const cfg = layer.getConfig() as Cfg;
  const kernel = layer.getWeights()[0];
  const strides = pair(cfg.strides ?? 1);
  const dil = pair(cfg.dilationRate ?? 1);
  return (x) => tf.depthwiseConv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, strides, cfg.padding as "same" | "valid", "NHWC", dil);
}

function pool(op: "MaxPool" | "AveragePool"): Converter {
  return (ctx, layer, xs) => {
    const cfg = layer.getConfig() as Cfg;
    const shape = inShape(layer);
    const k = pair(cfg.poolSize ?? 2);
    const s = pair(cfg.strides ?? cfg.poolSize ?? 2);
    const x = ctx.nchw(xs[0]);
    const attrs: Record<string, Attr> = { kernel_shape: { ints: k }, strides: { ints: s }, pads: { ints: pads(cfg.padding, [shape[1], shape[2]], k, s, [1, 1]) } };
    if (op === "AveragePool") attrs.count_include_pad = { int: 0 };
    return { ...x, name: ctx.g.node(op, [x.name], `${layer.name}_${op.toLowerCase()}`, attrs) };
  };
}

function globalPool(op: "GlobalAveragePool" | "GlobalMaxPool"): Converter {
  return (ctx, layer, xs) => {
    const x = ctx.nchw(xs[0]);
    const p = ctx.g.node(op, [x.name], `${layer.name}_pool`);
    return { name: ctx.g.node("Flatten", [p], `${layer.name}_flat`, { axis: { int: 1 } }), rank: 2, layout: "nhwc", q: x.q };
  };
}

function batchNorm(ctx: Context, layer: tf.layers.Layer, xs: Value[]): Value {
  const f = bnFold(layer);
  const x = xs[0].rank === 4 ? ctx.nchw(xs[0]) : xs[0];
  const c = f.scale.length;
  const g = ctx.g;
  const inputs = [x.name, g.floats(`${layer.name}_gamma`, [c], f.scale), g.floats(`${layer.name}_beta`, [c], f.shift), g.floats(`${layer.name}_mean`, [c], new Float32Array(c)), g.floats(`${layer.name}_var`, [c], new Float32Array(c).fill(1))];
  return { ...x, q: undefined, name: g.node("BatchNormalization", inputs, `${layer.name}_bn`, { epsilon: { float: 0 } }) };
}

/** A BatchNormalization layer's inference transform as scale and shift per channel. */
export function bnFold(layer: tf.layers.Layer): Fold {
  const cfg = layer.getConfig() as Cfg;
  const ws = layer.getWeights().map((t) => t.dataSync() as Float32Array);
  let i = 0;
  const gamma = cfg.scale !== false ? ws[i++] : undefined;
  const beta = cfg.center !== false ? ws[i++] : undefined;
  const mean = ws[i++];
  const variance = ws[i++];
  const eps = (cfg.epsilon as number | undefined) ?? 1e-3;
  const scale = new Float32Array(mean.length);
  const shift = new Float32Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    scale[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
    shift[c] = (beta ? beta[c] : 0) - mean[c] * scale[c];
  }
  return { scale, shift };
}

function flatten(ctx: Context, layer: tf.layers.Layer, xs: Value[]): Value {
  const x = ctx.nhwc(xs[0]);
  return { name: ctx.g.node("Flatten", [x.name], `${layer.name}_flat`, { axis: { int: 1 } }), rank: 2, layout: "nhwc", q: x.q };
}

function reshape(ctx: Context, layer: tf.layers.Layer, xs: Value[]): Value {
  const target = (layer.getConfig() as Cfg).targetShape as number[];
  const x = ctx.nhwc(xs[0]);
  const shape = ctx.g.int64s(`${layer.name}_shape`, [0, ...target]);
  return { name: ctx.g.node("Reshape", [x.name, shape], `${layer.name}_reshape`), rank: target.length + 1, layout: "nhwc", q: x.q };
}

function merge(op: string): Converter {
  return (ctx, layer, xs) => {
    const layout = xs[0].layout;
    const ins = xs.map((v) => ctx.as(v, layout).name);
    if (op === "Mean" || op === "Max" || op === "Min" || op === "Sum") return { ...xs[0], q: undefined, layout, name: ctx.g.node(op, ins, `${layer.name}_${op.toLowerCase()}`) };
    let acc = ins[0];
    for (let i = 1; i < ins.length; i++) acc = ctx.g.node(op, [acc, ins[i]], `${layer.name}_${op.toLowerCase()}`);
    return { ...xs[0], q: undefined, layout, name: acc };
  };
}

function concatenate(ctx: Context, layer: tf.layers.Layer, xs: Value[]): Value {
  const rank = xs[0].rank;
  const raw = ((layer.getConfig() as Cfg).axis as number | undefined) ?? -1;
  const axis = raw < 0 ? raw + rank : raw;
  const layout = xs[0].layout;
  const onnxAxis = layout === "nchw" ? [0, 2, 3, 1][axis] : axis;
  const ins = xs.map((v) => ctx.as(v, layout).name);
  return { ...xs[0], q: undefined, layout, name: ctx.g.node("Concat", ins, `${layer.name}_concat`, { axis: { int: onnxAxis } }) };
}

const identity: Converter = (_ctx, _layer, xs) => xs[0];

function activationLayer(ctx: Context, layer: tf.layers.Layer, xs: Value[]): Value {
  const cfg = layer.getConfig() as Cfg;
  switch (layer.getClassName()) {
    case "ReLU":
      return activate(ctx, xs[0], cfg.maxValue === 6 ? "relu6" : "relu", layer.name);
    case "Softmax":
      return activate(ctx, xs[0], "softmax", layer.name);
    case "ELU":
      return { ...xs[0], q: undefined, name: ctx.g.node("Elu", [xs[0].name], `${layer.name}_elu`, { alpha: { float: (cfg.alpha as number) ?? 1 } }) };
    case "LeakyReLU":
      return { ...xs[0], q: undefined, name: ctx.g.node("LeakyRelu", [xs[0].name], `${layer.name}_leaky`, { alpha: { float: (cfg.alpha as number) ?? 0.3 } }) };
    default:
      return activate(ctx, xs[0], cfg.activation, layer.name);
  }
}

/** The converters, by tfjs class name. */
export const CONVERTERS: Readonly<Record<string, Converter>> = {
  Dense: dense,
  Conv2D: conv2d,
  DepthwiseConv2D: depthwise,
  SeparableConv2D: separable,
  MaxPooling2D: pool("MaxPool"),
  AveragePooling2D: pool("AveragePool"),
  GlobalAveragePooling2D: globalPool("GlobalAveragePool"),
  GlobalMaxPooling2D: globalPool("GlobalMaxPool"),
  BatchNormalization: batchNorm,
  Activation: activationLayer,
  ReLU: activationLayer,
  Softmax: activationLayer,
  ELU: activationLayer,
  LeakyReLU: activationLayer,
  Flatten: flatten,
  Reshape: reshape,
  Dropout: identity,
  Add: merge("Add"),
  Multiply: merge("Mul"),
  Subtract: merge("Sub"),
  Maximum: merge("Max"),
  Minimum: merge("Min"),
  Average: merge("Mean"),
  Concatenate: concatenate,
};

/** Classes whose output BatchNormalization can be folded into (when they have no activation). */
export const FOLDABLE = ["Dense", "Conv2D", "DepthwiseConv2D", "SeparableConv2D"];
