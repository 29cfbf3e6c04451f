/**
 * `%evaluate <model> --data <var>`: loss, accuracy and the confusion matrix
 * of a classifier in inference mode (Dropout off, BatchNormalization on its
 * moving statistics), with the matrix drawn as a Plotly heat map.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { plotlyBundle, PlotlyFigure } from "../core/figure";
import { host, MimeBundle } from "../core/host";
import { escapeHtml } from "../core/table";
import { asLabeledData, batches, DataSource, isDataset } from "../data/dataset";
import { assertFinite } from "../toolkit/finite";
import { LossSpec, resolveLoss } from "../toolkit/losses";
import { checkpoint } from "../toolkit/pace";
import { count, sig, textTable } from "./format";
import { checkAllocation, checkFits, checkInteger, checkModel } from "./inputs";
import { isPredictor, Measurable, shapeView } from "./predictor";

export interface EvaluateOptions {
  /** Examples per forward pass for tensor data (default 256; a Dataset keeps its own batches). */
  batchSize?: number;
  /** Loss to report (default: the compiled loss, else chosen from the label shape; binaryCrossentropy for one sigmoid output). */
  loss?: LossSpec;
  /** The data argument's name in messages (default "data"; the magic passes "--data"). */
  argName?: string;
  /** Checked before every batch: an abort stops with E_INTERRUPTED (default host().signal()). */
  signal?: AbortSignal;
  /** Skip the NaN/Inf weight check (a caller that already made it, e.g. compare). */
  finiteChecked?: boolean;
}

/** What `evaluateModel` returns. `confusion[t][p]` counts examples of true class t predicted as p. */
export class EvaluationResult {
  constructor(
    readonly model: string,
    readonly loss: number,
    readonly lossName: string,
    readonly accuracy: number,
    readonly examples: number,
    readonly confusion: readonly (readonly number[])[]
  ) {}

  get classes(): number {
    return this.confusion.length;
  }

  /** Recall of each class: correct / examples of that class (NaN when a class has none). */
  get perClassAccuracy(): number[] {
    return this.confusion.map((row, t) => row[t] / row.reduce((a, b) => a + b, 0));
  }

  /** The confusion matrix as a Plotly heat map (true class down, predicted across). */
  figure(): PlotlyFigure {
    const labels = this.confusion.map((_, i) => String(i));
    return {
      data: [
        {
          type: "heatmap",
          z: this.confusion.map((r) => [...r]),
          x: labels,
          y: labels,
          colorscale: "Blues",
          texttemplate: "%{z}",
          hovertemplate: "true %{y}, predicted %{x}: %{z}<extra></extra>",
        },
      ],
      layout: {
        title: { text: `${this.model}: accuracy ${(100 * this.accuracy).toFixed(2)}% on ${count(this.examples)} examples` },
        xaxis: { title: { text: "predicted class" }, type: "category" },
        yaxis: { title: { text: "true class" }, type: "category", autorange: "reversed" },
        width: 520,
        height: 480,
      },
    };
  }

  toString(): string {
    const head = `Model "${this.model}": loss ${sig(this.loss, 4)} (${this.lossName}), accuracy ${(100 * this.accuracy).toFixed(2)}% on ${count(this.examples)} examples`;
    const labels = this.confusion.map((_, i) => String(i));
    const table = textTable(["true\\pred", ...labels], this.confusion.map((r, i) => [labels[i], ...r.map(String)]));
    return `${head}\nconfusion matrix (rows: true class, columns: predicted):\n${table}`;
  }

  toMimeBundle(): MimeBundle {
    const fig = plotlyBundle(this.figure());
    const head = escapeHtml(this.toString().split("\n")[0]);
    return { ...fig, "text/plain": this.toString(), "text/html": `<p>${head}</p>${fig["text/html"]}` };
  }
}

/** Predicted and true class of each example of one batch, and the batch's mean loss. */
async function scoreBatch(
  model: Measurable,
  xs: tf.Tensor,
  ys: tf.Tensor,
  classes: number,
  binary: boolean,
  loss: LossSpec | undefined,
  where: string
): Promise<{ loss: number; lossName: string; predicted: Int32Array; truth: Float32Array | Int32Array }> {
  if (ys.rank === 2 && ys.shape[1] !== 1 && ys.shape[1] !== classes) {
    throw new SlimlabError("E_DATA", `evaluateModel: ${where}.ys is one-hot of width ${ys.shape[1]} but model "${model.name}" has ${classes} classes`);
  }
  let lossName = "";
  const ext = isPredictor(model) ? await model.predict(xs) : undefined;
  const view = isPredictor(model) ? shapeView(model) : model;
  const [l, p, t] = tf.tidy(() => {
    const pred = ext ?? (view.predict(xs) as tf.Tensor);
    const oneHot = ys.rank === 2 && (ys.shape[1] ?? 1) > 1;
    const yTrue = binary ? tf.reshape(tf.cast(ys, "float32"), [-1, 1]) : ys;
    const resolved = resolveLoss(binary ? loss ?? "binaryCrossentropy" : loss, view, yTrue, "evaluateModel");
    lossName = resolved.name;
    return [
      resolved.fn(yTrue, pred),
      binary ? tf.cast(tf.reshape(tf.greater(pred, 0.5), [-1]), "int32") : tf.argMax(pred, -1),
      oneHot ? tf.argMax(ys, -1) : tf.reshape(ys, [-1]),
    ];
  });
  try {
    const [lv, pv, tv] = await Promise.all([l.data(), p.data(), t.data()]);
    return { loss: lv[0], lossName, predicted: pv as Int32Array, truth: tv as Float32Array | Int32Array };
  } finally {
    tf.dispose([l, p, t]);
    ext?.dispose();
  }
}

/**
 * Loss, accuracy and confusion matrix of a classifier on labelled data.
 *
 * @param model a built single-input, single-output classifier (a tf.LayersModel or a Predictor such as loadOnnx's): softmax (or
 *   logits) [N, C] with C ≥ 2, or one sigmoid unit [N, 1] (2 classes, p > 0.5)
 * @param data {xs, ys} (ys int [N] or one-hot [N, C]) or a tf.data.Dataset of such batches
 * @param options batchSize (default 256), loss, argName
 * @returns an EvaluationResult: loss, accuracy, examples, confusion[true][predicted], and a heat map
 * @throws SlimlabError E_TYPE for a non-model or bad data, E_MODEL for a
 *   model whose output is not [N, C], E_DATA when the examples' shape does
 *   not fit the model, a label is not a class index, or the one-hot width
 *   differs from C; E_ARG for a bad batchSize or one whose forward pass
 *   would not fit the backend's memory; E_MODEL for NaN/Inf weights;
 *   E_INTERRUPTED when the user interrupts (checked before every batch)
 * @example
 *   const r = await evaluateModel(model, loadMnist({ split: "test", subset: 1000 }));
 *   r.accuracy; r.confusion[3][5]; // 3s taken for 5s
 */
export async function evaluateModel(model: Measurable, data: DataSource, options: EvaluateOptions = {}): Promise<EvaluationResult> {
  const run = isPredictor(model) ? model : checkModel(model, "evaluateModel");
  const m = isPredictor(run) ? shapeView(run) : run;
  const argName = options.argName ?? "data";
  const batchSize = checkInteger(options.batchSize ?? 256, "evaluateModel", "batchSize");
  const outShape = m.outputs[0].shape;
  const width = outShape[outShape.length - 1];
  if (m.outputs.length !== 1 || outShape.length !== 2 || width === null) {
    throw new SlimlabError("E_MODEL", `evaluateModel: model "${m.name}" has output shape ${JSON.stringify(m.outputs.map((o) => o.shape))}; allowed: one output [N, C] of class scores`);
  }
  const source = asLabeledData(data, argName);
  if (!isDataset(source)) {
    checkFits(m, source.xs.shape, "evaluateModel", argName);
    checkAllocation(m, Math.min(batchSize, source.xs.shape[0]), "evaluateModel", "batchSize");
  }
  if (options.finiteChecked !== true && !isPredictor(run)) assertFinite(m, "evaluateModel", "evaluating it");
  const signal = options.signal ?? host().signal();
  const binary = width === 1;
  const classes = binary ? 2 : width;
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let n = 0;
  let lossSum = 0;
  let lossName = "";
  for await (const b of batches(source, batchSize, { argName })) {
    try {
      await checkpoint(signal, () => `evaluateModel: interrupted by the user after ${n} examples; nothing was measured, run the cell again`);
      checkFits(m, b.xs.shape, "evaluateModel", argName);
      const r = await scoreBatch(run, b.xs, b.ys, classes, binary, options.loss, argName);
      for (let i = 0; i < r.truth.length; i++) {
        const t = r.truth[i];
        if (!Number.isInteger(t) || t < 0 || t >= classes) {
          throw new SlimlabError("E_DATA", `evaluateModel: ${argName}.ys has label ${t} at example ${n + i}; allowed: class indices 0..${classes - 1} for model "${m.name}"`);
        }
        confusion[t][r.predicted[i]]++;
      }
      lossSum += r.loss * r.truth.length;
      lossName = r.lossName;
      n += r.truth.length;
    } finally {
      tf.dispose([b.xs, b.ys]);
    }
  }
  if (n === 0) throw new SlimlabError("E_DATA", `evaluateModel: ${argName} holds no examples`);
  const correct = confusion.reduce((a, row, i) => a + row[i], 0);
  return new EvaluationResult(m.name, lossSum / n, lossName, correct / n, n, confusion);
}
