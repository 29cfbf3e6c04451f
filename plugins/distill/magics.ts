/**
 * `%distill`: the magic form of distill().
 *
 *   const s = %distill teacher --data train --val val --test test --student-width 0.5 --baseline
 *
 * `%distill t s --data d --temperature 4` runs exactly
 * `(await distill(t, { student: s, data: d, temperature: 4 })).student`;
 * with -o the line gives the whole DistillResult.
 */
import * as tf from "@tensorflow/tfjs";
import { defineMagic } from "../core/magic";
import { distill, DistillResult } from "./distill";
import { OPTIMIZER_NAMES } from "./loop";
import { DISTILL_DEFAULTS, DISTILL_LIMITS as L, DistillOptions } from "./options";

const D = DISTILL_DEFAULTS;

/** The `%distill` declaration: parsing, help and completion come from it. */
export const distillMagic = defineMagic({
  name: "distill",
  summary: "Trains a student to match a teacher's temperature-softened outputs (Hinton, Vinyals & Dean 2015); returns the student.",
  description:
    "Loss = α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)) + (1 − α)·CE(y, softmax(z_s)) on logits. Give a student model or --student-width to build a " +
    "narrower copy of the teacher. --baseline also trains the same student on hard labels (same budget and seed) and shows both. " +
    "Shows a progress bar and a live chart; an interrupt stops at a batch boundary and keeps the last step's weights. " +
    "The user's models are not changed unless --inplace. The baseline student is freed after its numbers are shown; with -o it is kept in the result (dispose it when done).",
  positional: [
    { name: "teacher", help: "the trained teacher (a tf.LayersModel ending in softmax)" },
    { name: "student", help: "the student model (omit with --student-width)", optional: true },
  ],
  flags: {
    data: { type: "value", required: true, help: "training samples {xs, ys} (ys class indices [N] or one-hot [N, C]) or a tf.data.Dataset of such batches" },
    val: { type: "value", help: "validation samples held out from the training data (not the test set): curves, early stopping, and the final table unless --test" },
    test: { type: "value", help: "samples for the final table (default: --val)" },
    temperature: { type: "number", ...L.temperature, help: "softmax temperature T > 0 of the soft targets", default: D.temperature },
    alpha: { type: "number", ...L.alpha, help: "weight α in [0, 1] of the soft term; 1 − α weights the hard labels", default: D.alpha },
    epochs: { type: "number", help: "training epochs", ...L.epochs, default: D.epochs },
    batchSize: { type: "number", help: "samples per step", ...L.batchSize, default: D.batchSize },
    lr: { type: "number", ...L.lr, help: "learning rate (default: adam 1e-3, sgd 1e-2)" },
    optimizer: { type: "choice", help: "optimizer", choices: OPTIMIZER_NAMES, default: D.optimizer },
    studentWidth: { type: "number", ...L.studentWidth, help: "build the student from the teacher's architecture with layers W times as wide (e.g. 0.5)" },
    hint: { type: "string", help: "hint distillation teacherLayer:studentLayer (MSE through a learned projection)" },
    hintWeight: { type: "number", ...L.hintWeight, help: "weight of the hint term (default 1)" },
    baseline: { type: "boolean", help: "also train the student on hard labels only and compare" },
    seed: { type: "number", help: "seed of batch order and new weights", ...L.seed, default: D.seed },
    patience: { type: "number", help: "early stopping: epochs without a lower validation loss (needs --val)", ...L.patience },
    inplace: { type: "boolean", help: "train the given student itself instead of a copy" },
    noCacheTeacher: { type: "boolean", help: "run the teacher on every batch instead of computing its logits once" },
  },
  examples: [
    "const s = %distill teacher --data train --val val --test test --student-width 0.5 --baseline",
    "const s = %distill teacher small --data train --temperature 20 --alpha 0.9 --epochs 10",
    "const s = %distill teacher small --data train --hint fc1:fc1",
    "const r = %distill teacher --data train --val val --test test --student-width 0.5 --baseline -o; r.gapClosed",
  ],
  async run([teacher, student], f): Promise<DistillResult> {
    const common = {
      data: f.data as DistillOptions["data"],
      val: f.val as DistillOptions["val"],
      test: f.test as DistillOptions["test"],
      temperature: f.temperature,
      alpha: f.alpha,
      epochs: f.epochs,
      batchSize: f.batchSize,
      lr: f.lr,
      optimizer: f.optimizer,
      hint: f.hint,
      hintWeight: f.hintWeight,
      baseline: f.baseline,
      seed: f.seed,
      patience: f.patience,
      cacheTeacher: f.noCacheTeacher === true ? false : undefined,
    };
    const choice =
      student !== undefined
        ? { student: student as tf.LayersModel, studentWidth: f.studentWidth as undefined, inplace: f.inplace }
        : { studentWidth: f.studentWidth as number, inplace: f.inplace as undefined };
    return distill(teacher as tf.LayersModel, { ...common, ...choice } as DistillOptions);
  },
  output: {
    help: "return the whole DistillResult (student, histories, scores, the baseline student kept) instead of the student",
    value(result: DistillResult): tf.LayersModel {
      // The line gives only the student: the baseline has been measured and shown, so free its weights.
      result.baseline?.student.dispose();
      return result.student;
    },
  },
});
