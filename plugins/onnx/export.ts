/**
 * `exportOnnx(model, path, options)`: the thin layer around convert.ts that
 * checks options, calibrates (static int8), encodes and writes the file
 * atomically. Nothing is written when any check fails.
 */
import { promises as fs } from "fs";
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show } from "../core/errors";
import { calibrateProbes, calibrationInputs, Observer, OBSERVERS, Probe } from "../quantize/calibrate";
import { assertReplaceable, writeFileAtomic } from "../toolkit/safe-write";
import { QuantPlan } from "./context";
import { convertModel, exportableLayers, SAME_SCALE } from "./convert";
import { separableDepthwise } from "./layers";
import { decodeModel, encodeModel } from "./proto";

/** Opsets written: 13 (per-channel QuantizeLinear/DequantizeLinear) to 17 (the newest Debian's python3-onnx 1.12 checks). */
export const OPSETS = { min: 13, max: 17, default: 17 } as const;

export interface ExportOnnxOptions {
  /** ONNX opset, 13–17 (default 17). */
  opset?: number;
  /** Int8: "dynamic" (int8 weights, activations quantized per batch at run time) or "static" (activations too, over calibrated ranges). */
  int8?: "dynamic" | "static";
  /** Calibration inputs for static int8: a tensor or {xs}. */
  calibrate?: unknown;
  /** Observer choosing activation ranges (default "minmax"). */
  observer?: Observer;
  /** One weight scale per output channel instead of per tensor (default false). */
  perChannel?: boolean;
  /** Fold BatchNormalization into the conv/dense before it (default true). */
  foldBatchNorm?: boolean;
  /** Replace a file slimlab exported earlier (default false). */
  force?: boolean;
}

export interface ExportOnnxResult {
  path: string;
  bytes: number;
  opset: number;
  nodes: number;
  /** "float32", or "int8 static per-channel" etc. */
  precision: string;
  toString(): string;
}

/** Whether `file` is an ONNX model slimlab wrote (producer_name "slimlab"). */
async function ownOnnx(file: string): Promise<boolean> {
  try {
    return decodeModel(await fs.readFile(file)).producerName === "slimlab";
  } catch {
    return false;
  }
}

function checkOptions(o: ExportOnnxOptions, fn: string): void {
  const opset = o.opset ?? OPSETS.default;
  if (!Number.isInteger(opset) || opset < OPSETS.min || opset > OPSETS.max) {
    throw new SlimlabError("E_ARG", `${fn}: opset ${show(o.opset)} is not allowed; pass an integer from ${OPSETS.min} to ${OPSETS.max}, e.g. ${OPSETS.default}`);
  }
  if (o.int8 !== undefined && o.int8 !== "dynamic" && o.int8 !== "static") {
    throw new SlimlabError("E_ARG", `${fn}: int8 ${show(o.int8)} is not allowed; pass "dynamic" or "static" (or leave it out for float32)`);
  }
  if (o.int8 === "static" && o.calibrate === undefined) {
    throw new SlimlabError("E_MISSING_ARG", `${fn}: int8 "static" needs calibration inputs for the activation ranges; pass calibrate: xs (--calibrate xs), e.g. 500 training images`);
  }
  if (o.int8 !== "static" && o.calibrate !== undefined) {
    throw new SlimlabError("E_ARG", `${fn}: calibrate is only used with int8 "static"; add int8: "static" (--int8 static) or drop calibrate`);
  }
  if (o.observer !== undefined && o.int8 !== "static") {
    throw new SlimlabError("E_ARG", `${fn}: observer picks activation ranges, which only int8 "static" has; add int8: "static" (--int8 static) or drop observer`);
  }
  if (o.perChannel && o.int8 === undefined) {
    throw new SlimlabError("E_ARG", `${fn}: perChannel applies to int8 weights; add int8: "dynamic" or "static", or drop perChannel`);
  }
  if (o.observer !== undefined && !OBSERVERS.includes(o.observer)) {
    throw new SlimlabError("E_ARG", `${fn}: observer ${show(o.observer)} is not known; allowed: ${OBSERVERS.join(", ")}`);
  }
}

/** Layers whose outputs get calibrated ranges: every computing layer whose output is not a model output. */
function calibratedLayers(model: tf.LayersModel, layers: tf.layers.Layer[]): string[] {
  const outputs = new Set(model.outputs.map((t) => t.sourceLayer.name));
  const skip = ["InputLayer", "Dropout", ...SAME_SCALE];
  return layers.filter((l) => !skip.includes(l.getClassName()) && !outputs.has(l.name)).map((l) => l.name);
}

/** Min and max of each model input over the calibration set. */
function inputRanges(xs: tf.Tensor): [number, number][] {
  const [lo, hi] = tf.tidy(() => [xs.min().dataSync()[0], xs.max().dataSync()[0]]);
  return [[lo, hi]];
}

/**
 * Builds the quantization plan (ranges from slimlab's calibration observers for static).
 */
async function plan(model: tf.LayersModel, layers: tf.layers.Layer[], o: ExportOnnxOptions, fn: string): Promise<QuantPlan | undefined> {
  if (o.int8 === undefined) return undefined;
  const base = { mode: o.int8, perChannel: o.perChannel === true, ranges: new Map<string, [number, number]>(), depthwiseRanges: new Map<string, [number, number]>(), inputRanges: [] as [number, number][] };
  if (o.int8 === "dynamic") return base;
  if (model.inputs.length !== 1) throw new SlimlabError("E_MODEL", `${fn}: static int8 export calibrates models with one input; "${model.name}" has ${model.inputs.length}; use int8: "dynamic"`);
  const xs = calibrationInputs(o.calibrate, fn);
  const probes: Probe[] = calibratedLayers(model, layers).map((name) => ({ name, tensor: model.getLayer(name).output as tf.SymbolicTensor }));
  // A SeparableConv2D is two convolutions in ONNX; the value between them has no layer of its own, so it is computed from the layer's input.
  const separable = layers.filter((l) => l.getClassName() === "SeparableConv2D");
  const inner = (name: string) => `${name}\u0000depthwise`;
  for (const l of separable) probes.push({ name: inner(l.name), tensor: l.input as tf.SymbolicTensor, map: separableDepthwise(l) });
  const observed = probes.length ? await calibrateProbes(model, probes, xs, { observer: o.observer ?? "minmax", caller: { fn, leaves: "nothing was written" } }) : new Map<string, [number, number]>();
  const ranges = new Map([...observed].filter(([k]) => !k.includes("\u0000")));
  const depthwiseRanges = new Map(separable.map((l) => [l.name, observed.get(inner(l.name)) as [number, number]]));
  return { ...base, ranges, depthwiseRanges, inputRanges: inputRanges(xs) };
}

/**
 * Exports a tfjs model as an ONNX file.
 *
 * @param model a built tf.LayersModel (Dense, Conv2D, DepthwiseConv2D,
 *   SeparableConv2D, pooling, BatchNormalization, activations, Flatten,
 *   Reshape, Dropout, Add/Concatenate/... layers)
 * @param file the .onnx path (its directory is created)
 * @param options opset, int8 (+ calibrate, observer, perChannel), foldBatchNorm, force
 * @returns path, size, opset, node count and precision
 * @throws SlimlabError E_MODEL (unsupported layer, unbuilt model), E_ARG /
 *   E_MISSING_ARG (options), E_FILE (existing file without force); nothing is written then
 * @example
 *   await exportOnnx(lenet5(), "out/lenet5.onnx");
 *   await exportOnnx(model, "out/q.onnx", { int8: "static", calibrate: xs, perChannel: true });
 */
export async function exportOnnx(model: tf.LayersModel, file: string, options: ExportOnnxOptions = {}, fn = "exportOnnx"): Promise<ExportOnnxResult> {
  if (typeof file !== "string" || file === "") throw new SlimlabError("E_ARG", `${fn}: path ${show(file)} is not a file name; pass a path such as "out/model.onnx"`);
  checkOptions(options, fn);
  const layers = exportableLayers(model, fn);
  await assertReplaceable(file, { fn, force: options.force, kind: "file", ownedIf: ownOnnx });
  const opset = options.opset ?? OPSETS.default;
  const quant = await plan(model, layers, options, fn);
  const graph = convertModel(model, { opset, quant, fn, foldBatchNorm: options.foldBatchNorm });
  const bytes = encodeModel(graph, `tfjs ${tf.version.tfjs}`);
  const path = await writeFileAtomic(file, bytes, { fn, force: options.force, ownedIf: ownOnnx });
  const precision = quant ? `int8 ${quant.mode} ${quant.perChannel ? "per-channel" : "per-tensor"}` : "float32";
  return {
    path,
    bytes: bytes.length,
    opset,
    nodes: graph.nodes.length,
    precision,
    toString: () => `Exported ${model.name} to ${path}: ONNX opset ${opset}, ${precision}, ${graph.nodes.length} nodes, ${(bytes.length / 1024).toFixed(1)} KiB`,
  };
}
