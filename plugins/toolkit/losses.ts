/**
 * Losses and accuracy for the toolkit's training loop: a Keras loss name or
 * a function, resolved once against the model and the labels, plus the
 * matching notion of "correct prediction".
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show, suggestion } from "../core/errors";

/** Keras loss names the toolkit understands (camelCase as tfjs writes them; snake_case is accepted too). */
export type LossName =
  | "categoricalCrossentropy"
  | "sparseCategoricalCrossentropy"
  | "binaryCrossentropy"
  | "meanSquaredError"
  | "meanAbsoluteError";

export const LOSS_NAMES: readonly LossName[] = [
  "categoricalCrossentropy",
  "sparseCategoricalCrossentropy",
  "binaryCrossentropy",
  "meanSquaredError",
  "meanAbsoluteError",
];

/** A loss function: labels and predictions in, a scalar (or per-sample values, averaged) out. */
export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

export type LossSpec = LossName | LossFn;

/** How a prediction counts as correct: argmax vs one-hot, argmax vs integer label, p > 0.5, or not at all. */
export type AccuracyKind = "categorical" | "sparse" | "binary" | "none";

export interface ResolvedLoss {
  /** The loss name, or "custom". */
  name: string;
  /** Mean loss over the batch. */
  fn: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar;
  accuracy: AccuracyKind;
}

/** Integer labels of shape [n] or [n, 1] as one-hot rows of width `classes`. */
function oneHot(labels: tf.Tensor, classes: number): tf.Tensor {
  return tf.oneHot(tf.cast(tf.reshape(labels, [-1]), "int32") as tf.Tensor1D, classes);
}

const NAMED: Record<LossName, { fn: LossFn; accuracy: AccuracyKind }> = {
  categoricalCrossentropy: { fn: (t, p) => tf.metrics.categoricalCrossentropy(t, p), accuracy: "categorical" },
  sparseCategoricalCrossentropy: {
    fn: (t, p) => tf.metrics.categoricalCrossentropy(oneHot(t, p.shape[p.rank - 1]), p),
    accuracy: "sparse",
  },
  binaryCrossentropy: { fn: (t, p) => tf.metrics.binaryCrossentropy(t, p), accuracy: "binary" },
  meanSquaredError: { fn: (t, p) => tf.metrics.meanSquaredError(t, p), accuracy: "none" },
  meanAbsoluteError: { fn: (t, p) => tf.metrics.meanAbsoluteError(t, p), accuracy: "none" },
};

function camel(s: string): string {
  return s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Accuracy kind implied by label and prediction shapes (for custom loss functions and defaults). */
function kindFromShapes(labels: readonly number[], outputs: readonly (number | null)[]): AccuracyKind {
  const classes = outputs[outputs.length - 1];
  if (classes === null || classes < 2) return "none";
  if (labels.length === outputs.length - 1 || (labels.length === outputs.length && labels[labels.length - 1] === 1)) return "sparse";
  if (labels.length === outputs.length && labels[labels.length - 1] === classes) return "categorical";
  return "none";
}

/**
 * Turns a loss option into a function and an accuracy rule.
 *
 * Without `spec`, the model's compiled loss is used when it is one of
 * LOSS_NAMES or a function; otherwise labels of shape [n] (or [n, 1]) with a
 * multi-class output mean sparseCategoricalCrossentropy and one-hot labels
 * mean categoricalCrossentropy. A custom function gets the accuracy rule its
 * shapes imply (argmax for one-hot, integer labels for [n]) or none.
 *
 * @param spec a LossName, a function, or undefined
 * @param model the model being trained (its output shape and compiled loss)
 * @param ys the labels
 * @param fn the calling function's name, for messages
 * @returns the mean-loss function, its name and accuracy kind
 * @throws SlimlabError E_ARG for an unknown name (with a suggestion) or when
 *   no default fits (regression labels without a loss)
 * @example
 *   const l = resolveLoss("sparseCategoricalCrossentropy", model, ys, "train");
 */
export function resolveLoss(spec: LossSpec | undefined, model: tf.LayersModel, ys: tf.Tensor, fn: string): ResolvedLoss {
  const outShape = model.outputs[0].shape;
  const wrap = (f: LossFn) => (t: tf.Tensor, p: tf.Tensor) => tf.mean(f(t, p)) as tf.Scalar;
  if (typeof spec === "function") return { name: "custom", fn: wrap(spec), accuracy: kindFromShapes(ys.shape, outShape) };
  if (typeof spec === "string") {
    const name = camel(spec);
    if (!(LOSS_NAMES as readonly string[]).includes(name)) {
      throw new SlimlabError("E_ARG", `${fn}: unknown loss ${show(spec)}${suggestion(spec, LOSS_NAMES)}; allowed: ${LOSS_NAMES.join(", ")}, or a function (yTrue, yPred) => tf.Scalar`);
    }
    const entry = NAMED[name as LossName];
    return { name, fn: wrap(entry.fn), accuracy: entry.accuracy };
  }
  if (spec !== undefined) {
    throw new SlimlabError("E_ARG", `${fn}: loss must be a loss name or a function, received ${show(spec)}`);
  }
  const compiled = model.loss as unknown;
  if (typeof compiled === "function") return resolveLoss(compiled as LossFn, model, ys, fn);
  if (typeof compiled === "string" && (LOSS_NAMES as readonly string[]).includes(camel(compiled))) return resolveLoss(compiled as LossName, model, ys, fn);
  const kind = kindFromShapes(ys.shape, outShape);
  if (kind === "sparse") return resolveLoss("sparseCategoricalCrossentropy", model, ys, fn);
  if (kind === "categorical") return resolveLoss("categoricalCrossentropy", model, ys, fn);
  throw new SlimlabError(
    "E_ARG",
    `${fn}: cannot choose a loss for labels of shape [${ys.shape.join(", ")}] and outputs [${outShape.map(String).join(", ")}]; pass loss: one of ${LOSS_NAMES.join(", ")} or a function`
  );
}

/**
 * Fraction of correct predictions in a batch, as a scalar tensor (NaN when
 * `kind` is "none"). Call inside tf.tidy.
 *
 * @param kind the rule from resolveLoss
 * @param yTrue labels
 * @param yPred model outputs
 * @returns a scalar in [0, 1]
 * @example
 *   batchAccuracy("sparse", tf.tensor1d([1, 0]), tf.tensor2d([[0.2, 0.8], [0.3, 0.7]])); // 0.5
 */
export function batchAccuracy(kind: AccuracyKind, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  switch (kind) {
    case "categorical":
      return tf.mean(tf.cast(tf.equal(tf.argMax(yTrue, -1), tf.argMax(yPred, -1)), "float32")) as tf.Scalar;
    case "sparse":
      return tf.mean(tf.cast(tf.equal(tf.cast(tf.reshape(yTrue, [-1]), "int32"), tf.argMax(yPred, -1)), "float32")) as tf.Scalar;
    case "binary":
      return tf.mean(tf.cast(tf.equal(tf.greater(yTrue, 0.5), tf.greater(yPred, 0.5)), "float32")) as tf.Scalar;
    case "none":
      return tf.scalar(NaN);
  }
}
