/**
 * The knowledge-distillation objective of Hinton, Vinyals & Dean 2015
 * ("Distilling the Knowledge in a Neural Network", §2):
 *
 *   loss = α · T² · KL(softmax(z_t / T) ‖ softmax(z_s / T)) + (1 − α) · CE(y, softmax(z_s))
 *
 * on logits z (the values before the final softmax). The soft term matches
 * the student's temperature-T distribution to the teacher's; the hard term is
 * the usual cross-entropy with the true labels at T = 1. §2.1 shows that the
 * soft term's gradient scales as 1/T², so it is multiplied by T² to keep the
 * two terms' relative weight when T changes.
 *
 * KL(p_t ‖ p_s) differs from the paper's cross-entropy H(p_t, p_s) by the
 * teacher's entropy, a constant for the student: same gradients, but the KL
 * is 0 when the student matches the teacher, which makes curves readable.
 *
 * Pure functions: tensors in, a scalar out, nothing stored.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show } from "../core/errors";
import { fitsNumberRule, NumberRule } from "../core/magic";

/** Temperatures allowed: > 0 (also the limits of %distill --temperature). */
export const TEMPERATURE: NumberRule = { above: 0 };
/** Soft-term weights allowed: [0, 1] (also the limits of %distill --alpha). */
export const ALPHA: NumberRule = { min: 0, max: 1 };

/** The two knobs of the objective. */
export interface DistillLossOptions {
  /** Softmax temperature T > 0 of the soft term (Hinton et al. used 20 on MNIST; 2.5–4 for very small students). */
  temperature: number;
  /** Weight α ∈ [0, 1] of the soft term; 1 − α weights the hard-label term. */
  alpha: number;
}

/**
 * Checks a temperature: a finite number > 0.
 *
 * @param value what the caller passed
 * @param fn the public function's name, for the message
 * @returns the temperature
 * @throws SlimlabError E_ARG naming the value
 * @example
 *   checkTemperature(4, "distill"); // 4
 */
export function checkTemperature(value: unknown, fn: string): number {
  if (!fitsNumberRule(value, TEMPERATURE)) {
    throw new SlimlabError("E_ARG", `${fn}: temperature ${show(value)} is not allowed: pass a number > 0, e.g. 4 (Hinton et al. 2015 used 20 on MNIST)`);
  }
  return value;
}

/**
 * Checks a soft-term weight: a number in [0, 1].
 *
 * @param value what the caller passed
 * @param fn the public function's name, for the message
 * @returns alpha
 * @throws SlimlabError E_ARG naming the value
 * @example
 *   checkAlpha(0.9, "distill"); // 0.9
 */
export function checkAlpha(value: unknown, fn: string): number {
  if (!fitsNumberRule(value, ALPHA)) {
    throw new SlimlabError("E_ARG", `${fn}: alpha ${show(value)} is not allowed: pass a number in [0, 1] (the soft term's weight, e.g. 0.9; 0 trains on hard labels only)`);
  }
  return value;
}

/** Labels [B] (class indices) or [B, C] (one-hot or probabilities) as float rows [B, C]. */
function labelRows(y: tf.Tensor, classes: number): tf.Tensor {
  return y.rank === 1 ? tf.oneHot(tf.cast(y, "int32") as tf.Tensor1D, classes).toFloat() : tf.cast(y, "float32");
}

function checkLogits(zt: tf.Tensor | undefined, zs: tf.Tensor, y: tf.Tensor | undefined, fn: string): void {
  if (zs.rank !== 2) throw new SlimlabError("E_DATA", `${fn}: student logits have shape [${zs.shape.join(", ")}]; expected [batch, classes]`);
  if (zt !== undefined && (zt.rank !== 2 || zt.shape[0] !== zs.shape[0] || zt.shape[1] !== zs.shape[1])) {
    throw new SlimlabError("E_DATA", `${fn}: teacher logits [${zt.shape.join(", ")}] and student logits [${zs.shape.join(", ")}] differ; both must be [batch, classes]`);
  }
  if (y !== undefined) {
    const ok = y.shape[0] === zs.shape[0] && (y.rank === 1 || (y.rank === 2 && y.shape[1] === zs.shape[1]));
    if (!ok) throw new SlimlabError("E_DATA", `${fn}: labels [${y.shape.join(", ")}] do not fit logits [${zs.shape.join(", ")}]; pass class indices [batch] or one-hot [batch, classes]`);
  }
}

/**
 * The soft term T² · KL(softmax(z_t/T) ‖ softmax(z_s/T)), averaged over the
 * batch (Hinton et al. 2015, §2 and §2.1 for the T² factor).
 *
 * @param zt teacher logits [B, C]
 * @param zs student logits [B, C]
 * @param temperature T > 0
 * @returns a scalar (the caller disposes it)
 * @throws SlimlabError E_ARG for a bad temperature, E_DATA for shapes that differ
 * @example
 *   softTargetLoss(tf.tensor2d([[2, 1, 0]]), tf.tensor2d([[2, 1, 0]]), 4); // 0
 */
export function softTargetLoss(zt: tf.Tensor, zs: tf.Tensor, temperature: number): tf.Scalar {
  const t = checkTemperature(temperature, "softTargetLoss");
  checkLogits(zt, zs, undefined, "softTargetLoss");
  return tf.tidy(() => {
    const logPt = tf.logSoftmax(tf.div(zt, t));
    const logPs = tf.logSoftmax(tf.div(zs, t));
    const kl = tf.sum(tf.mul(tf.exp(logPt), tf.sub(logPt, logPs)), -1);
    return tf.mul(tf.mean(kl), t * t) as tf.Scalar;
  });
}

/**
 * The hard term CE(y, softmax(z_s)) at temperature 1, averaged over the batch;
 * computed from logits with log-softmax, so it stays finite for confident students.
 *
 * @param y labels: class indices [B] or one-hot rows [B, C]
 * @param zs student logits [B, C]
 * @returns a scalar (the caller disposes it)
 * @throws SlimlabError E_DATA when the labels do not fit the logits
 * @example
 *   hardLabelLoss(tf.tensor1d([0]), tf.tensor2d([[0, 0]])); // ln 2
 */
export function hardLabelLoss(y: tf.Tensor, zs: tf.Tensor): tf.Scalar {
  checkLogits(undefined, zs, y, "hardLabelLoss");
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(labelRows(y, zs.shape[1] as number), tf.logSoftmax(zs)), -1))) as tf.Scalar);
}

/**
 * The distillation loss α · T² · KL(softmax(z_t/T) ‖ softmax(z_s/T)) + (1 − α) · CE(y, softmax(z_s)),
 * averaged over the batch (Hinton, Vinyals & Dean 2015, §2). With α = 0 it is
 * plain cross-entropy and the teacher logits are not read.
 *
 * @param zt teacher logits [B, C] (pre-softmax: see toolkit/logits.ts)
 * @param zs student logits [B, C]
 * @param y labels: class indices [B] or one-hot rows [B, C]
 * @param options temperature T > 0 and soft-term weight α ∈ [0, 1]
 * @returns a scalar (the caller disposes it); differentiable in zs
 * @throws SlimlabError E_ARG for T ≤ 0 or α outside [0, 1]; E_DATA for shapes that do not fit
 * @example
 *   const l = distillationLoss(teacherLogits, studentLogits, labels, { temperature: 4, alpha: 0.9 });
 *   (await l.data())[0];
 */
export function distillationLoss(zt: tf.Tensor, zs: tf.Tensor, y: tf.Tensor, options: DistillLossOptions): tf.Scalar {
  const t = checkTemperature(options?.temperature, "distillationLoss");
  const alpha = checkAlpha(options.alpha, "distillationLoss");
  checkLogits(zt, zs, y, "distillationLoss");
  return tf.tidy(() => {
    const hard = hardLabelLoss(y, zs);
    if (alpha === 0) return hard;
    const soft = softTargetLoss(zt, zs, t);
    return tf.add(tf.mul(soft, alpha), tf.mul(hard, 1 - alpha)) as tf.Scalar;
  });
}
