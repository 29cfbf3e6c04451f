/**
 * Quantization-aware training (Jacob et al. 2018, §3; Krishnamoorthi 2018
 * §4: 4-bit weights need it). The forward pass sees quantized weights, the
 * optimizer updates float "shadow" weights, and the gradient of the
 * quantized weight is used as the shadow's (the straight-through estimator,
 * as in BinaryConnect, Courbariaux et al. 2015, Alg. 1).
 *
 * How it attaches to plugins/toolkit/train.ts without a custom forward
 * pass: the model's variables hold Q(shadow); after each optimizer step
 * (the afterStep hook) the change the optimizer made, Δ = w − Q(shadow),
 * is added to the shadow, pruning masks are re-applied to it, and Q(shadow)
 * is written back. The masks are the model's own (toolkit/masks.ts) unless
 * `masks` is given; train() has already zeroed the masked weights after the
 * step, so Δ is 0 there and the shadow of a pruned weight stays 0. Δ is exactly the optimizer's update computed at the
 * quantized weights, so any optimizer works. Activation FakeQuant layers, if
 * present, pass gradients straight through by themselves (fake-quant.ts).
 *
 * Scheme kmeans trains differently, as Deep Compression does (§3.1): the
 * codes are fixed after clustering and only the centroids are trained,
 * each with the summed gradient of its cluster (centroids.ts); pruned
 * zeros stay exactly 0.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show } from "../core/errors";
import { getMasks } from "../toolkit/masks";
import { TrainHistory, train } from "../toolkit/train";
import type { Caller } from "../toolkit/pace";
import { weightRole } from "../toolkit/layers";
import { LayerConfig, quantizeTensor } from "./quantizer";
import { QuantizedTensor } from "./quantized";
import { fineTuneCentroids } from "./centroids";
import { QatOptions } from "./qat-options";

export type { QatOptions } from "./qat-options";

/** One weight trained quantization-aware. */
export interface QatWeight {
  name: string;
  shape: number[];
  channelAxis: number;
  config: LayerConfig;
  /** Starting float values. */
  float: Float32Array;
}

function variableOf(model: tf.LayersModel, name: string): tf.LayerVariable {
  const cut = name.lastIndexOf("/");
  const layer = model.layers.find((l) => l.name === name.slice(0, cut));
  const v = layer?.weights.find((w) => weightRole(w) === name.slice(cut + 1));
  if (v === undefined) throw new SlimlabError("E_MODEL", `qat: model "${model.name}" has no weight ${name}`);
  return v;
}

/**
 * Trains `model` in place with quantized weights and float shadows, or,
 * for scheme kmeans, by fine-tuning the centroids (module comment).
 *
 * @param model the model to train (its weights are overwritten with Q(shadow))
 * @param weights the weights to train quantization-aware, with their configs
 * @param opts data, epochs and training settings
 * @returns the final quantized tensors (also written into the model) and the history
 * @throws SlimlabError E_ARG when a mask's shape differs from its weight, or
 *   kmeans weights are mixed with other schemes; train's errors (E_INTERRUPTED
 *   when the user interrupts)
 * @example
 *   const { quantized } = await quantizationAwareTrain(m, weights, { data: train, epochs: 1 });
 */
export async function quantizationAwareTrain(model: tf.LayersModel, weights: readonly QatWeight[], opts: QatOptions): Promise<{ quantized: Map<string, QuantizedTensor>; history: TrainHistory }> {
  const masks = new Map<string, Float32Array>();
  const given = opts.masks ?? getMasks(model);
  for (const w of weights) {
    const m = given.get(w.name);
    if (m === undefined) continue;
    if (m.shape.join(",") !== w.shape.join(",")) {
      throw new SlimlabError("E_ARG", `qat: mask of ${w.name} has shape [${m.shape.join(", ")}] but the weight [${w.shape.join(", ")}]; pass masks of the model being quantized`);
    }
    masks.set(w.name, m.dataSync() as Float32Array);
  }
  const kmeans = weights.filter((w) => w.config.scheme === "kmeans");
  if (kmeans.length > 0) {
    if (kmeans.length !== weights.length) throw new SlimlabError("E_ARG", `qat: kmeans weights train their centroids and cannot be mixed with other schemes in one run (${weights.find((w) => w.config.scheme !== "kmeans")?.name} is not kmeans)`);
    const start = new Map<string, QuantizedTensor>();
    for (const w of weights) {
      // Masked weights become exact zeros, which quantizeKmeans keeps out of the clusters.
      const mask = masks.get(w.name);
      const float = mask ? w.float.map((v, i) => v * mask[i]) : w.float;
      start.set(w.name, quantizeTensor(float, w.shape, w.config, w.channelAxis));
    }
    return fineTuneCentroids(model, start, opts);
  }
  const shadow = new Map<string, Float32Array>();
  const quantized = new Map<string, QuantizedTensor>();
  const write = (w: QatWeight): void => {
    const s = shadow.get(w.name) as Float32Array;
    const mask = masks.get(w.name);
    if (mask) for (let i = 0; i < s.length; i++) s[i] *= mask[i];
    const q = quantizeTensor(s, w.shape, w.config, w.channelAxis);
    quantized.set(w.name, q);
    const v = variableOf(model, w.name);
    tf.tidy(() => {
      v.write(tf.tensor(q.values, w.shape, "float32"));
    });
  };
  for (const w of weights) {
    shadow.set(w.name, Float32Array.from(w.float));
    write(w);
  }
  const history = await train(model, opts.data, {
    epochs: opts.epochs,
    batchSize: opts.batchSize ?? 64,
    seed: opts.seed ?? 1,
    lr: opts.lr,
    optimizer: opts.optimizer,
    label: `qat ${model.name}`,
    caller: opts.caller,
    callbacks: {
      afterStep: (m) => {
        for (const w of weights) {
          const now = variableOf(m, w.name).read().dataSync() as Float32Array;
          const before = (quantized.get(w.name) as QuantizedTensor).values;
          const s = shadow.get(w.name) as Float32Array;
          for (let i = 0; i < s.length; i++) s[i] += now[i] - before[i];
          write(w);
        }
      },
    },
  });
  return { quantized, history };
}

/**
 * Checks the `qat` option's data and epochs.
 *
 * @param qat the option as given
 * @param fn the public function's name
 * @throws SlimlabError E_ARG when data or epochs are missing or invalid
 * @example
 *   checkQat({ data: { xs, ys }, epochs: 1 }, "quantize");
 */
export function checkQat(qat: Partial<QatOptions> | undefined, fn: string): asserts qat is QatOptions {
  if (qat?.data === undefined || !(qat.data.xs instanceof tf.Tensor) || !(qat.data.ys instanceof tf.Tensor)) {
    throw new SlimlabError("E_ARG", `${fn}: --qat needs training data, received ${show(qat?.data)}; pass --data <var> holding {xs, ys} tensors`);
  }
  if (!Number.isInteger(qat.epochs) || (qat.epochs as number) < 1) {
    throw new SlimlabError("E_ARG", `${fn}: --epochs ${show(qat.epochs)} is not allowed with --qat; pass a positive integer, e.g. --epochs 2`);
  }
}
