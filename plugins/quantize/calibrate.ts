/**
 * Calibration: run sample inputs through a model and choose, per layer
 * output, the range [lo, hi] its activations are quantized over.
 * Observers (as PyTorch's MinMaxObserver / HistogramObserver and TensorRT's
 * calibrators, Krishnamoorthi 2018 §3):
 * - minmax: the observed min and max; exact for the data, fragile with outliers.
 * - percentile: the p-th and (100 − p)-th percentiles (default p = 99.99),
 *   which ignores rare outliers.
 * - mse: the clipping range whose 8-bit (or `bits`) quantization error on
 *   the observed values is smallest, searched over 100 shrinkings of the
 *   min/max range.
 * Values are kept as a strided sample of at most `maxSamples` per layer.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show } from "../core/errors";
import { host } from "../core/host";
import { Caller, checkpoint } from "../toolkit/pace";
import { fitsNumberRule, NumberRule } from "../core/magic";
import { linearParams } from "./linear";
import { rint } from "./scheme";

export type Observer = "minmax" | "percentile" | "mse";
export const OBSERVERS: readonly Observer[] = ["minmax", "percentile", "mse"];

/** Percentiles the percentile observer takes: (50, 100] (%quantize --percentile has the same limits). */
export const PERCENTILE: NumberRule = { above: 50, max: 100 };

/** Options of {@link calibrate}. */
export interface CalibrateOptions {
  observer: Observer;
  /** Percentile for "percentile", in (50, 100]; default 99.99. */
  percentile?: number;
  /** Bits the "mse" search optimises for; default 8. */
  bits?: number;
  /** Samples per forward pass; default 256. */
  batchSize?: number;
  /** Values kept per layer for percentile/mse; default 200000. */
  maxSamples?: number;
  /** Checked before every batch (default host().signal()). */
  signal?: AbortSignal;
  /** For the E_INTERRUPTED message: who calibrates and what an interrupt leaves. */
  caller?: Caller;
}

/**
 * The calibration inputs of a `--calibrate` value: a tensor of inputs, or
 * {xs, ...}.
 *
 * @param value what the user passed
 * @param fn the public function's name
 * @returns the input tensor (borrowed)
 * @throws SlimlabError E_TYPE for other values, E_DATA for an empty set
 * @example
 *   calibrationInputs({ xs, ys }, "quantize");
 */
export function calibrationInputs(value: unknown, fn: string): tf.Tensor {
  const xs = value instanceof tf.Tensor ? value : (value as { xs?: unknown } | null)?.xs;
  if (!(xs instanceof tf.Tensor)) {
    throw new SlimlabError("E_TYPE", `${fn}: calibration data is ${show(value)}; pass a tf.Tensor of inputs or {xs: tf.Tensor}`);
  }
  if (xs.isDisposed) throw new SlimlabError("E_DATA", `${fn}: calibration data is a disposed tensor; load it again`);
  if (xs.rank === 0 || xs.shape[0] === 0) {
    throw new SlimlabError("E_DATA", `${fn}: calibration set is empty (shape [${xs.shape.join(", ")}]); pass at least one example, e.g. 100–1000 training inputs`);
  }
  return xs;
}

/** Error of quantizing `sample` over [lo, hi] at `bits`. */
function clipError(sample: Float32Array, lo: number, hi: number, bits: number): number {
  const p = linearParams(lo, hi, bits, "affine");
  const top = p.min + p.qhi * p.scale;
  let s = 0;
  for (let i = 0; i < sample.length; i++) {
    const v = Math.min(Math.max(sample[i], p.min), top);
    const d = sample[i] - (rint((v - p.min) / p.scale) * p.scale + p.min);
    s += d * d;
  }
  return s;
}

/** The range an observer picks for one layer's observed values. */
export function observeRange(sample: Float32Array, lo: number, hi: number, opts: CalibrateOptions): [number, number] {
  if (opts.observer === "minmax" || sample.length === 0) return [lo, hi];
  if (opts.observer === "percentile") {
    const p = opts.percentile ?? 99.99;
    const sorted = Float32Array.from(sample).sort();
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round((q / 100) * (sorted.length - 1))))];
    return [at(100 - p), at(p)];
  }
  const bits = opts.bits ?? 8;
  let best: [number, number] = [lo, hi];
  let bestErr = Infinity;
  for (let i = 100; i >= 1; i--) {
    const r: [number, number] = [(lo * i) / 100, (hi * i) / 100];
    const e = clipError(sample, r[0], r[1], bits);
    if (e < bestErr) {
      bestErr = e;
      best = r;
    }
  }
  return best;
}

/**
 * Observes the outputs of `layers` on `xs` and returns a range per layer.
 *
 * @param model the model (its current weights are used)
 * @param layers names of layers whose outputs to observe
 * @param xs calibration inputs (at least one example)
 * @param opts observer and its settings
 * @returns layer name → [lo, hi]
 * @throws SlimlabError E_ARG for a bad percentile, E_INTERRUPTED when the user interrupts
 * @example
 *   const ranges = await calibrate(model, ["fc1", "fc2"], xs, { observer: "percentile" });
 */
export async function calibrate(model: tf.LayersModel, layers: readonly string[], xs: tf.Tensor, opts: CalibrateOptions): Promise<Map<string, [number, number]>> {
  return calibrateProbes(model, layers.map((name) => ({ name, tensor: model.getLayer(name).output as tf.SymbolicTensor })), xs, opts);
}

/**
 * A value to calibrate: a symbolic tensor of the model, optionally mapped
 * (e.g. the depthwise half of a SeparableConv2D, computed from the layer's
 * input), which no layer outputs by itself.
 */
export interface Probe {
  /** Key of its range in the result. */
  name: string;
  tensor: tf.SymbolicTensor;
  /** Computes the observed value from the tensor's value on a batch (runs inside tf.tidy). */
  map?: (t: tf.Tensor) => tf.Tensor;
}

/**
 * Observes `probes` on `xs` with an observer, as {@link calibrate} does for layer outputs.
 *
 * @param model the model whose inputs the probes' tensors depend on
 * @param probes what to observe
 * @param xs calibration inputs (at least one example)
 * @param opts observer and its settings
 * @returns probe name → [lo, hi]
 * @throws SlimlabError E_ARG for a bad percentile, E_INTERRUPTED when the user interrupts
 */
export async function calibrateProbes(model: tf.LayersModel, probes: readonly Probe[], xs: tf.Tensor, opts: CalibrateOptions): Promise<Map<string, [number, number]>> {
  const p = opts.percentile ?? 99.99;
  if (opts.observer === "percentile" && !fitsNumberRule(p, PERCENTILE)) {
    throw new SlimlabError("E_ARG", `calibrate: percentile ${show(p)} is not allowed; pass a number in (50, 100], e.g. 99.99`);
  }
  // A model cannot list one tensor twice among its outputs (tfjs' predict fails), so probes of the same tensor share one.
  const tensors = [...new Map(probes.map((q) => [q.tensor.id, q.tensor])).values()];
  const slot = probes.map((q) => tensors.indexOf(q.tensor));
  const probe = tf.model({ inputs: model.inputs, outputs: tensors });
  const n = xs.shape[0];
  const batch = opts.batchSize ?? 256;
  const maxSamples = opts.maxSamples ?? 200000;
  const lo = new Array<number>(probes.length).fill(Infinity);
  const hi = new Array<number>(probes.length).fill(-Infinity);
  const samples: number[][] = probes.map(() => []);
  const signal = opts.signal ?? host().signal();
  const caller = opts.caller ?? { fn: "calibrate", leaves: "no ranges were kept; run the cell again" };
  for (let start = 0; start < n; start += batch) {
    await checkpoint(signal, () => `${caller.fn}: interrupted by the user while calibrating on ${start} of ${n} samples; ${caller.leaves}`);
    const size = Math.min(batch, n - start);
    const outs = tf.tidy(() => {
      const y = probe.predict(tf.slice(xs, start, size));
      const ys = Array.isArray(y) ? y : [y];
      return probes.map((q, j) => q.map?.(ys[slot[j]]) ?? ys[slot[j]]);
    });
    let values: Float32Array[];
    try {
      values = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
    } finally {
      tf.dispose(outs);
    }
    values.forEach((v, j) => {
      for (let i = 0; i < v.length; i++) {
        if (v[i] < lo[j]) lo[j] = v[i];
        if (v[i] > hi[j]) hi[j] = v[i];
      }
      if (opts.observer === "minmax") return;
      const perBatch = Math.ceil((maxSamples * size) / n);
      const stride = Math.max(1, Math.floor(v.length / perBatch));
      for (let i = 0; i < v.length; i += stride) samples[j].push(v[i]);
    });
  }
  const out = new Map<string, [number, number]>();
  probes.forEach(({ name }, j) => out.set(name, observeRange(Float32Array.from(samples[j]), lo[j], hi[j], opts)));
  return out;
}
