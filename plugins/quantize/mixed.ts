/**
 * Mixed precision: bits per layer from each layer's sensitivity
 * (Krishnamoorthi 2018 §5 and the HAQ/HAWQ line of work: some layers
 * tolerate 2–4 bits, others need 8).
 *
 * Sensitivity of layer l at b bits: with data, the increase in loss when
 * only l is quantized at b bits (the rest stays float); without data, the
 * layer's relative quantization noise Σ(w − ŵ)²/Σw² = 10^(−SQNR/10).
 * Two goals:
 * - budget: the smallest total sensitivity whose size fits `budgetKB`,
 *   found greedily from the widest setting, each time lowering the layer
 *   that adds the least sensitivity per bit saved (a standard heuristic for
 *   this multiple-choice knapsack);
 * - maxDrop: the smallest model whose accuracy on `data` stays within
 *   `maxDrop` percentage points of the float model, by the same greedy
 *   order, each step checked by evaluating the whole mixed model.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show } from "../core/errors";
import { PlotlyFigure } from "../core/figure";
import { host } from "../core/host";
import { cloneModel } from "../toolkit/clone";
import { Caller, checkpoint } from "../toolkit/pace";
import { weightRole } from "../toolkit/layers";
import { TrainData, evaluate } from "../toolkit/train";
import { errorStats } from "./metrics";
import { storageBits } from "./sparse-size";
import { LayerConfig, quantizeTensor } from "./quantizer";
import { BITS } from "./scheme";

export type MixedGoal = { budgetKB: number } | { maxDrop: number };

/** Options of {@link chooseBits}. */
export type MixedOptions = MixedGoal & {
  /** Scores sensitivity by loss (required for maxDrop). */
  data?: TrainData;
  /** Bit widths to choose from (default 2, 3, 4, 5, 6, 8 within the scheme's range). */
  candidates?: readonly number[];
};

/** A weight that takes part. */
export interface MixedWeight {
  name: string;
  shape: number[];
  channelAxis: number;
  float: Float32Array;
}

/** The outcome. */
export interface MixedChoice {
  bits: Map<string, number>;
  /** One row per weight and candidate: sensitivity and size. */
  sensitivity: { weight: string; bits: number; sensitivity: number; kb: number }[];
  /** Accuracy of float and chosen models on data (maxDrop, or when data is given). */
  floatAccuracy?: number;
  accuracy?: number;
  figure: PlotlyFigure;
}

function variableOf(model: tf.LayersModel, name: string): tf.LayerVariable {
  const cut = name.lastIndexOf("/");
  const layer = model.layers.find((l) => l.name === name.slice(0, cut)) as tf.layers.Layer;
  return layer.weights.find((w) => weightRole(w) === name.slice(cut + 1)) as tf.LayerVariable;
}

function setValues(model: tf.LayersModel, name: string, values: Float32Array, shape: number[]): void {
  tf.tidy(() => {
    variableOf(model, name).write(tf.tensor(values, shape, "float32"));
  });
}

/**
 * Chooses bits per weight.
 *
 * @param model the float model (not changed: a private clone is evaluated)
 * @param weights the weights to quantize, with their float values
 * @param base scheme and options every layer shares (bits are chosen here)
 * @param opts budgetKB or maxDrop (with data), optional candidates
 * @param fn the public function's name
 * @param leaves for the E_INTERRUPTED message: what an interrupt leaves behind
 * @returns bits per weight name, the sensitivity table, accuracies and a chart
 * @throws SlimlabError E_ARG when the budget is below the smallest possible
 *   size, maxDrop lacks data, or candidates fall outside the scheme's range;
 *   E_INTERRUPTED when the user interrupts (checked before every candidate
 *   and every evaluation batch)
 * @example
 *   const { bits } = await chooseBits(m, ws, cfg, { budgetKB: 30 }, "quantize");
 */
export async function chooseBits(
  model: tf.LayersModel,
  weights: readonly MixedWeight[],
  base: LayerConfig,
  opts: MixedOptions,
  fn: string,
  leaves = "no bits were chosen; run the cell again"
): Promise<MixedChoice> {
  const signal = host().signal();
  const caller: Caller = { fn, leaves };
  const score = (m: tf.LayersModel, data: TrainData) => evaluate(m, data, 256, undefined, signal, caller);
  const range = BITS[base.scheme];
  const candidates = [...(opts.candidates ?? [2, 3, 4, 5, 6, 8].filter((b) => b >= range.min && b <= range.max))].sort((a, b) => a - b);
  const bad = candidates.find((b) => !Number.isInteger(b) || b < range.min || b > range.max);
  if (candidates.length === 0 || bad !== undefined) {
    throw new SlimlabError("E_ARG", `${fn}: mixed-precision candidates ${show(candidates)} do not fit scheme ${base.scheme}; allowed bits: ${range.min}–${range.max}`);
  }
  if ("maxDrop" in opts && opts.data === undefined) {
    throw new SlimlabError("E_ARG", `${fn}: --max-drop ${opts.maxDrop} needs --data <var> to measure accuracy; pass labelled data or use --budget KB`);
  }
  const work = opts.data ? cloneModel(model) : undefined;
  try {
    const baseline = work && opts.data ? await score(work, opts.data) : undefined;
    const table: MixedChoice["sensitivity"] = [];
    const sens = new Map<string, Map<number, { s: number; bits: number; values: Float32Array }>>();
    for (const w of weights) {
      const perBits = new Map<number, { s: number; bits: number; values: Float32Array }>();
      for (const b of candidates) {
        await checkpoint(signal, () => `${fn}: interrupted by the user while measuring the sensitivity of ${w.name} at ${b} bits; ${leaves}`);
        const q = quantizeTensor(w.float, w.shape, { ...base, bits: b }, w.channelAxis);
        let s: number;
        if (work && opts.data && baseline) {
          setValues(work, w.name, q.values, w.shape);
          s = (await score(work, opts.data)).loss - baseline.loss;
          setValues(work, w.name, w.float, w.shape);
        } else {
          s = 10 ** (-errorStats(w.float, q.values).sqnrDb / 10);
        }
        const qBits = storageBits(q, w.name);
        perBits.set(b, { s, bits: qBits, values: q.values });
        table.push({ weight: w.name, bits: b, sensitivity: s, kb: qBits / 8 / 1024 });
      }
      sens.set(w.name, perBits);
    }
    const chosen = new Map(weights.map((w) => [w.name, candidates[candidates.length - 1]]));
    const sizeBits = () => weights.reduce((s, w) => s + (sens.get(w.name)?.get(chosen.get(w.name) as number)?.bits ?? 0), 0);
    /** The cheapest next step down: least added sensitivity per bit saved. */
    const nextMove = (frozen: Set<string>): [string, number] | undefined => {
      let best: [string, number] | undefined;
      let bestRatio = Infinity;
      for (const w of weights) {
        if (frozen.has(w.name)) continue;
        const cur = chosen.get(w.name) as number;
        const i = candidates.indexOf(cur);
        if (i === 0) continue;
        const lower = candidates[i - 1];
        const a = sens.get(w.name)?.get(cur);
        const b = sens.get(w.name)?.get(lower);
        if (!a || !b) continue;
        const ratio = (b.s - a.s) / Math.max(1, a.bits - b.bits);
        if (ratio < bestRatio) {
          bestRatio = ratio;
          best = [w.name, lower];
        }
      }
      return best;
    };
    let accuracy: number | undefined;
    if ("budgetKB" in opts) {
      const budgetBits = opts.budgetKB * 8 * 1024;
      const smallest = weights.reduce((s, w) => s + (sens.get(w.name)?.get(candidates[0])?.bits ?? 0), 0);
      if (smallest > budgetBits) {
        throw new SlimlabError("E_ARG", `${fn}: --budget ${opts.budgetKB} KB is below the smallest size reachable (${(smallest / 8192).toFixed(2)} KB of quantized weights at ${candidates[0]} bits); raise the budget or allow fewer bits`);
      }
      while (sizeBits() > budgetBits) {
        const move = nextMove(new Set());
        if (move === undefined) break;
        chosen.set(move[0], move[1]);
      }
    } else if (work && opts.data && baseline) {
      const floor = baseline.accuracy - opts.maxDrop / 100;
      const frozen = new Set<string>();
      for (const w of weights) setValues(work, w.name, (sens.get(w.name)?.get(chosen.get(w.name) as number)?.values) as Float32Array, w.shape);
      accuracy = (await score(work, opts.data)).accuracy;
      for (let move = nextMove(frozen); move !== undefined; move = nextMove(frozen)) {
        const [name, lower] = move;
        const w = weights.find((x) => x.name === name) as MixedWeight;
        const before = chosen.get(name) as number;
        setValues(work, name, sens.get(name)?.get(lower)?.values as Float32Array, w.shape);
        const acc = (await score(work, opts.data)).accuracy;
        if (acc >= floor) {
          chosen.set(name, lower);
          accuracy = acc;
        } else {
          setValues(work, name, sens.get(name)?.get(before)?.values as Float32Array, w.shape);
          frozen.add(name);
        }
      }
    }
    const figure: PlotlyFigure = {
      data: weights.map((w) => ({
        type: "scatter",
        mode: "lines+markers",
        name: w.name,
        x: candidates,
        y: candidates.map((b) => sens.get(w.name)?.get(b)?.s ?? null),
      })),
      layout: {
        title: { text: `Per-layer sensitivity (${opts.data ? "loss increase" : "relative quantization noise"})` },
        xaxis: { title: { text: "bits" } },
        yaxis: { title: { text: opts.data ? "Δ loss" : "Σ(w−ŵ)²/Σw²" }, type: opts.data ? "linear" : "log" },
      },
    };
    return { bits: chosen, sensitivity: table, floatAccuracy: baseline?.accuracy, accuracy, figure };
  } finally {
    work?.dispose();
  }
}
