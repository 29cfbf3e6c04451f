/**
 * `%optimize <model>`: an inference-only rewrite of a model that computes
 * the same function with fewer kernels:
 * 1. drop layers that do nothing at inference (Dropout and its variants,
 *    GaussianNoise/GaussianDropout, a linear Activation);
 * 2. fold each BatchNormalization into the Dense/Conv layer before it
 *    (fold.ts: W' = W·γ/σ, b' = (b − μ)·γ/σ + β, σ = sqrt(var + ε));
 * 3. fuse a relu or elu layer (Activation, ReLU without a cap, ELU with
 *    alpha 1) into the activation of a Conv2D or Dense before it, the only
 *    pairs tfjs-layers 4.22 runs as one fused kernel (FusedConv2D or
 *    _FusedMatMul; see FUSED_LAYERS). Any other activation stays its own
 *    layer: moved into a layer's `activation` it would run as separate
 *    kernels all the same, and relu6 would run slower (minimum(6, relu(x))
 *    instead of the ReLU layer's clipByValue).
 * A step applies only where the rewritten layer's raw output is seen by
 * nothing else (it has one consumer and is not a model output). The result
 * is a new model built by toolkit/surgery's rebuild; the user's model is not
 * changed. Trained further, the new model would behave differently (no
 * batch statistics, no dropout): it is meant for inference.
 */
import * as tf from "@tensorflow/tfjs";
import { MimeBundle } from "../core/host";
import { escapeHtml } from "../core/table";
import { isSequential, modelConfig } from "../toolkit/clone";
import { assertFinite } from "../toolkit/finite";
import { weightRole } from "../toolkit/layers";
import { Edit, rebuild } from "../toolkit/surgery";
import { benchBatch, benchSettings } from "./bench";
import { foldBatchNorm } from "./fold";
import { sig, ms } from "./format";
import { checkAllocation, checkInteger, checkModel, outputsOf, randomInputs } from "./inputs";
import { countKernels, KernelCount } from "./kernels";

export interface OptimizeOptions {
  /** Measure latency before and after (default true). */
  measure?: boolean;
  /** Batch size of the latency measurement and kernel count (default 1). */
  batch?: number;
  /** Timed samples for each model (default 20). */
  runs?: number;
  /** Warm-up calls for each model (default 3). */
  warmup?: number;
}

export interface FoldStep { batchNorm: string; into: string }
export interface FuseStep { activation: string; into: string; fn: string }
export interface RemoveStep { layer: string; className: string }
export interface SkipNote { layer: string; reason: string }

/** What `optimize` returns: the new model and what was done to get it. */
export class OptimizeResult {
  constructor(
    readonly model: tf.LayersModel,
    readonly folded: readonly FoldStep[],
    readonly fused: readonly FuseStep[],
    readonly removed: readonly RemoveStep[],
    /** Layers that looked like candidates but were left alone, and why. */
    readonly skipped: readonly SkipNote[],
    /** Largest |original − optimized| over the outputs of 4 random examples (inference mode). */
    readonly maxAbsDiff: number,
    readonly kernels: { before: KernelCount; after: KernelCount },
    /** Median ms per predict, before and after (undefined with measure: false). */
    readonly latency?: { batch: number; beforeMs: number; afterMs: number; ratio: number }
  ) {}

  toString(): string {
    const lines = [`Optimized "${this.model.name}": ${this.model.layers.length} layers`];
    for (const f of this.folded) lines.push(`  folded ${f.batchNorm} into ${f.into}`);
    for (const f of this.fused) lines.push(`  fused ${f.activation} into ${f.into} (${f.fn})`);
    for (const r of this.removed) lines.push(`  removed ${r.layer} (${r.className}, a no-op at inference)`);
    for (const s of this.skipped) lines.push(`  left ${s.layer}: ${s.reason}`);
    if (this.folded.length + this.fused.length + this.removed.length === 0) lines.push("  nothing to fold, fuse or remove");
    lines.push(`outputs match the original's to ${sig(this.maxAbsDiff, 2)} (max abs difference, 4 random examples)`);
    lines.push(`kernels per predict: ${this.kernels.before.total} → ${this.kernels.after.total}`);
    const l = this.latency;
    if (l) lines.push(`p50 latency at batch ${l.batch}: ${ms(l.beforeMs)} → ${ms(l.afterMs)} (${sig(l.ratio)}× the original's time)`);
    return lines.join("\n");
  }

  toMimeBundle(): MimeBundle {
    const text = this.toString();
    return { "text/plain": text, "text/html": `<pre>${escapeHtml(text)}</pre>` };
  }
}

const NO_OPS = new Set(["Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout"]);
/** Layers a batch norm folds into (and the only ones an activation may fuse into: FUSED_LAYERS), and the weight scaled per output channel. */
const KERNEL_OF: Record<string, string> = {
  Dense: "kernel",
  Conv1D: "kernel",
  Conv2D: "kernel",
  DepthwiseConv2D: "depthwise_kernel",
  SeparableConv2D: "pointwise_kernel",
};

/**
 * Where tfjs-layers 4.22 runs the layer's activation inside the kernel:
 * Conv2D.call (dist/layers/convolutional.js, the rank-2 Conv) and Dense.call
 * (dist/layers/core.js) pass `mapActivationToFusedKernel(activation)` to
 * tf.fused.conv2d / tf.fused.matMul, and that function
 * (dist/utils/generic_utils.js) maps only relu, elu and linear; any other
 * activation, and every activation of Conv1D, DepthwiseConv2D
 * (dist/layers/convolutional_depthwise.js) and SeparableConv2D, is applied
 * after the product by `this.activation.apply`.
 */
const FUSED_LAYERS = new Set(["Conv2D", "Dense"]);
const FUSED_ACTIVATIONS = new Set(["relu", "elu"]);

/** Why tfjs would not run `fn` fused into a `className` layer (undefined when it would). */
function unfusedReason(className: string, fn: string): string | undefined {
  if (FUSED_LAYERS.has(className) && FUSED_ACTIVATIONS.has(fn)) return undefined;
  return `tfjs runs ${fn} after a ${className} as separate kernels either way, so it stays a layer`;
}

type Config = Record<string, unknown>;
interface Entry { name?: string; className: string; config: Config; inboundNodes?: [string, number, number, unknown?][][] }

/** The model's graph as its config states it. */
interface Graph {
  entries: Map<string, Entry>;
  order: string[];
  inbound: Map<string, string[]>;
  consumers: Map<string, string[]>;
  outputs: Set<string>;
  shared: Set<string>;
  sequential: boolean;
}

function graphOf(model: tf.LayersModel): Graph {
  const config = modelConfig(model);
  const list = config.layers as unknown as Entry[];
  const sequential = isSequential(model);
  const nameOf = (e: Entry) => e.name ?? String(e.config.name);
  const g: Graph = { entries: new Map(), order: [], inbound: new Map(), consumers: new Map(), outputs: new Set(), shared: new Set(), sequential };
  list.forEach((e, i) => {
    const name = nameOf(e);
    g.entries.set(name, e);
    g.order.push(name);
    g.consumers.set(name, []);
    const nodes = e.inboundNodes ?? [];
    if (nodes.length > 1) g.shared.add(name);
    g.inbound.set(name, sequential ? (i === 0 ? [] : [nameOf(list[i - 1])]) : (nodes[0] ?? []).map((ref) => ref[0]));
  });
  for (const [name, ins] of g.inbound) for (const p of ins) g.consumers.get(p)?.push(name);
  if (sequential) g.outputs.add(g.order[g.order.length - 1]);
  else for (const ref of config.outputLayers as unknown as [string][]) g.outputs.add(ref[0]);
  return g;
}

/** The graph seen through the layers already taken out. */
class View {
  readonly removed = new Set<string>();
  constructor(readonly g: Graph) {}

  /** The one layer feeding `name` once removed layers are skipped, if there is exactly one. */
  source(name: string): string | undefined {
    let ins = this.g.inbound.get(name) ?? [];
    while (ins.length === 1 && this.removed.has(ins[0])) ins = this.g.inbound.get(ins[0]) ?? [];
    return ins.length === 1 ? ins[0] : undefined;
  }

  /** Layers reading `name`'s output, looking through removed ones. */
  sinks(name: string): string[] {
    return (this.g.consumers.get(name) ?? []).flatMap((c) => (this.removed.has(c) ? this.sinks(c) : [c]));
  }

  /** Whether `name`'s output is a model output (directly or through removed layers). */
  observed(name: string): boolean {
    return this.g.outputs.has(name) || (this.g.consumers.get(name) ?? []).some((c) => this.removed.has(c) && this.observed(c));
  }

  /** Why `p` cannot absorb `next` (undefined when it can). */
  blocker(p: string | undefined, next: string, model: tf.LayersModel): string | undefined {
    if (p === undefined) return "it has more than one input or none";
    const entry = this.g.entries.get(p) as Entry;
    if (!(entry.className in KERNEL_OF)) return `it follows ${p} (${entry.className}), which has no kernel to take it`;
    if (this.g.shared.has(p)) return `${p} is called more than once in the model`;
    if (entry.config.dataFormat === "channelsFirst") return `${p} is channelsFirst`;
    const act = entry.config.activation ?? "linear";
    if (act !== "linear") return `it follows ${p}'s ${String(act)} activation (only a linear layer can take it)`;
    const others = this.sinks(p).filter((c) => c !== next);
    if (others.length > 0 || this.observed(p)) return `${p}'s output is also read by ${others.length > 0 ? others.join(", ") : "the model's outputs"}`;
    if (model.getLayer(p).weights.length === 0) return `${p} has no weights`;
    return undefined;
  }
}

/** The activation function name a layer stands for, if it can become another layer's `activation`. */
function activationName(entry: Entry, rank: number): string | undefined {
  const c = entry.config;
  switch (entry.className) {
    case "Activation":
      return c.activation === "linear" ? undefined : String(c.activation);
    case "ReLU":
      return c.maxValue == null ? "relu" : c.maxValue === 6 ? "relu6" : undefined;
    case "ELU":
      return c.alpha == null || c.alpha === 1 ? "elu" : undefined;
    case "Softmax":
      return c.axis === -1 || c.axis === rank - 1 ? "softmax" : undefined;
    default:
      return undefined;
  }
}

function outputRank(model: tf.LayersModel, name: string): number {
  const shape = model.getLayer(name).outputShape;
  return (Array.isArray(shape[0]) ? (shape[0] as unknown[]) : (shape as unknown[])).length;
}

/** The folded weights of `into`, in its weight order (a bias appended when it had none). */
function foldedWeights(model: tf.LayersModel, into: string, bnName: string): tf.Tensor[] {
  const layer = model.getLayer(into);
  const bn = model.getLayer(bnName);
  const byRole = new Map(bn.weights.map((w) => [weightRole(w), w.read().dataSync()] as const));
  const params = {
    gamma: byRole.get("gamma"),
    beta: byRole.get("beta"),
    movingMean: byRole.get("moving_mean") as ArrayLike<number>,
    movingVariance: byRole.get("moving_variance") as ArrayLike<number>,
    epsilon: Number((bn.getConfig() as Config).epsilon ?? 1e-3),
  };
  const kernelRole = KERNEL_OF[layer.getClassName()];
  const kernelVar = layer.weights.find((w) => weightRole(w) === kernelRole) as tf.LayerVariable;
  const biasVar = layer.weights.find((w) => weightRole(w) === "bias");
  const folded = foldBatchNorm(kernelVar.read().dataSync(), biasVar?.read().dataSync(), params);
  const out: tf.Tensor[] = [];
  for (const w of layer.weights) {
    const role = weightRole(w);
    if (role === kernelRole) out.push(tf.tensor(folded.kernel, w.shape as number[]));
    else if (role === "bias") out.push(tf.tensor(folded.bias, w.shape as number[]));
    else out.push(w.read().clone());
  }
  if (biasVar === undefined) out.push(tf.tensor1d(folded.bias));
  return out;
}

/** Decides the steps on the config graph. */
function plan(model: tf.LayersModel): { g: Graph; view: View; folds: Map<string, string>; fuses: Map<string, [string, string]>; removed: RemoveStep[]; skipped: SkipNote[] } {
  const g = graphOf(model);
  const view = new View(g);
  const removed: RemoveStep[] = [];
  const skipped: SkipNote[] = [];
  for (const name of g.order) {
    const e = g.entries.get(name) as Entry;
    const linear = e.className === "Activation" && e.config.activation === "linear";
    // A Sequential's first layer has no inbound entry; rebuild hands its input shape on.
    const fed = (g.inbound.get(name) ?? []).length === 1 || (g.sequential && name === g.order[0]);
    if ((NO_OPS.has(e.className) || linear) && fed && !g.shared.has(name) && g.order.length - view.removed.size > 1) {
      view.removed.add(name);
      removed.push({ layer: name, className: e.className });
    }
  }
  const folds = new Map<string, string>();
  for (const name of g.order) {
    const e = g.entries.get(name) as Entry;
    if (e.className !== "BatchNormalization" || view.removed.has(name)) continue;
    const rank = outputRank(model, name);
    const axis = Number(e.config.axis ?? -1);
    if (axis !== -1 && axis !== rank - 1) {
      skipped.push({ layer: name, reason: `it normalises axis ${axis}, not the channel (last) axis` });
      continue;
    }
    const p = view.source(name);
    const why = g.shared.has(name) ? "it is called more than once in the model" : view.blocker(p, name, model);
    if (why !== undefined) {
      skipped.push({ layer: name, reason: why });
      continue;
    }
    folds.set(p as string, name);
    view.removed.add(name);
  }
  const fuses = new Map<string, [string, string]>();
  for (const name of g.order) {
    const e = g.entries.get(name) as Entry;
    if (view.removed.has(name)) continue;
    const fn = activationName(e, outputRank(model, name));
    if (fn === undefined) continue;
    const p = view.source(name);
    const why =
      (g.shared.has(name) ? "it is called more than once in the model" : view.blocker(p, name, model)) ??
      unfusedReason((g.entries.get(p as string) as Entry).className, fn);
    if (why !== undefined) {
      skipped.push({ layer: name, reason: why });
      continue;
    }
    fuses.set(p as string, [name, fn]);
    view.removed.add(name);
  }
  return { g, view, folds, fuses, removed, skipped };
}

async function maxAbsDiff(a: tf.LayersModel, b: tf.LayersModel): Promise<number> {
  const xs = randomInputs(a, 4, "optimize", 11);
  try {
    const d = tf.tidy(() => {
      const ya = outputsOf(a, xs);
      const yb = outputsOf(b, xs);
      return tf.max(tf.stack(ya.map((y, i) => tf.max(tf.abs(tf.sub(y, yb[i]))))));
    });
    try {
      return (await d.data())[0];
    } finally {
      d.dispose();
    }
  } finally {
    tf.dispose(xs);
  }
}

/**
 * Folds batch norms, fuses activations and drops inference no-ops, returning
 * a new model with the same outputs in inference mode.
 *
 * @param model a built Sequential or functional tf.LayersModel (not changed)
 * @param options measure latency (default true) at `batch` (default 1) with `runs`/`warmup`
 * @returns an OptimizeResult: `model` (new), what was folded, fused,
 *   removed and left, the largest output difference on random inputs,
 *   kernels per predict and latency before and after
 * @throws SlimlabError E_TYPE for a non-model, E_MODEL for an unbuilt one,
 *   NaN/Inf weights, shared layers or a graph tfjs cannot rebuild, E_ARG for
 *   bad options or a batch that would not fit the backend's memory,
 *   E_INTERRUPTED when the user interrupts the latency measurement; on any
 *   error the new model is freed
 * @example
 *   const r = await optimize(model);
 *   r.folded;        // [{batchNorm: "bn1", into: "conv1"}, ...]
 *   r.model.predict(x);
 */
export async function optimize(model: tf.LayersModel, options: OptimizeOptions = {}): Promise<OptimizeResult> {
  const m = checkModel(model, "optimize");
  const batch = checkInteger(options.batch ?? 1, "optimize", "batch");
  const settings = options.measure === false ? undefined : benchSettings({ batch: [batch], runs: options.runs ?? 20, warmup: options.warmup ?? 3 }, "optimize");
  checkAllocation(m, batch, "optimize", "batch");
  assertFinite(m, "optimize", "optimizing it");
  const p = plan(m);
  const edits: Edit[] = [];
  const owned: tf.Tensor[] = [];
  const folded: FoldStep[] = [];
  const fused: FuseStep[] = [];
  let out: tf.LayersModel;
  try {
    for (const name of p.g.order) {
      const bn = p.folds.get(name);
      const act = p.fuses.get(name);
      if (bn === undefined && act === undefined) continue;
      const entry = p.g.entries.get(name) as Entry;
      const config: Config = { ...entry.config };
      let weights: tf.Tensor[];
      if (bn !== undefined) {
        weights = foldedWeights(m, name, bn);
        owned.push(...weights);
        config.useBias = true;
        folded.push({ batchNorm: bn, into: name });
      } else {
        weights = m.getLayer(name).getWeights();
      }
      if (act !== undefined) {
        config.activation = act[1];
        fused.push({ activation: act[0], into: name, fn: act[1] });
      }
      edits.push({ op: "replace", layer: name, className: entry.className, config: config as tf.serialization.ConfigDict, weights });
    }
    for (const name of p.view.removed) edits.push({ op: "remove", layer: name });
    out = rebuild(m, edits);
  } finally {
    tf.dispose(owned);
  }
  try {
    const diff = await maxAbsDiff(m, out);
    const kernels = { before: await countKernels(m, batch), after: await countKernels(out, batch) };
    let latency: OptimizeResult["latency"];
    if (settings !== undefined) {
      const before = await benchBatch(m, batch, settings);
      const after = await benchBatch(out, batch, settings);
      latency = { batch, beforeMs: before.ms.p50, afterMs: after.ms.p50, ratio: after.ms.p50 / before.ms.p50 };
    }
    return new OptimizeResult(out, folded, fused, p.removed, p.skipped, diff, kernels, latency);
  } catch (e) {
    out.dispose();
    throw e;
  }
}
