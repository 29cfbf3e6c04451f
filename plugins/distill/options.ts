/**
 * The options of distill(): their types, defaults, and the one function that
 * checks them all before anything is built or trained.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError, show, suggestion } from "../core/errors";
import { describeNumberRule, fitsNumberRule, NumberRule } from "../core/magic";
import type { DataSource } from "../data/dataset";
import { checkSeed } from "../data/random";
import type { OptimizerName } from "../toolkit/train";
import { HintLayers, parseHint } from "./hint";
import { DistillCallbacks, OPTIMIZER_NAMES } from "./loop";
import { ALPHA, checkAlpha, checkTemperature, TEMPERATURE } from "./loss";
import { checkWidth, WIDTH } from "./student";

/** Defaults, shared by distill() and the magic's help. */
export const DISTILL_DEFAULTS = {
  temperature: 4,
  alpha: 0.9,
  epochs: 5,
  batchSize: 64,
  seed: 0,
  optimizer: "adam" as OptimizerName,
  hintWeight: 1,
};

/** Settings shared by every way of choosing the student. */
export interface DistillCommonOptions {
  /** Training samples: {xs, ys} (ys class indices [N] or one-hot [N, C]) or a tf.data.Dataset of such batches (read into memory once). */
  data: DataSource;
  /** Validation samples: per-epoch validation curves and early stopping. */
  val?: DataSource;
  /** Samples for the final teacher / student / baseline table; default `val`. */
  test?: DataSource;
  /** Softmax temperature T > 0 of the soft targets. Default 4. */
  temperature?: number;
  /** Weight α ∈ [0, 1] of the soft term; 1 − α weights the hard labels. Default 0.9. */
  alpha?: number;
  /** Default 5. */
  epochs?: number;
  /** Default 64. */
  batchSize?: number;
  /** Learning rate (defaults: adam 1e-3, rmsprop 1e-3, sgd 1e-2, adagrad 1e-2). */
  lr?: number;
  /** Default "adam". */
  optimizer?: OptimizerName;
  /** Hint distillation "teacherLayer:studentLayer": MSE between those layers' activations (FitNets). */
  hint?: string;
  /** Weight of the hint term. Default 1. */
  hintWeight?: number;
  /** Also train the same student on hard labels only, same budget and seed, and compare. */
  baseline?: boolean;
  /** Seeds the batch order, a studentWidth student's weights and the hint projection. Default 0. */
  seed?: number;
  /** Early stopping: epochs without a lower validation loss before stopping (needs `val`); the best epoch's weights are kept. */
  patience?: number;
  /** Compute the teacher's logits once for all samples instead of per batch (the teacher is fixed). Default true; off with a hint. */
  cacheTeacher?: boolean;
  /** Stops training between batches; default host().signal(). */
  signal?: AbortSignal;
  callbacks?: DistillCallbacks;
  /** Show progress bars. Default true. */
  progress?: boolean;
  /** Show the live chart and the final table. Default true. */
  display?: boolean;
}

/** Distil into a given student: trained as a copy, or in place with `inplace`. */
export interface GivenStudent {
  student: tf.LayersModel;
  studentWidth?: undefined;
  /** Train `student` itself instead of a copy. Default false. */
  inplace?: boolean;
}

/** Distil into a copy of the teacher's architecture with every hidden layer `studentWidth` times as wide. */
export interface NarrowedStudent {
  studentWidth: number;
  student?: undefined;
  inplace?: undefined;
}

export type DistillOptions = DistillCommonOptions & (GivenStudent | NarrowedStudent);

/** Options after checking, with defaults filled in. */
export interface Settings {
  temperature: number;
  alpha: number;
  epochs: number;
  batchSize: number;
  lr?: number;
  optimizer: OptimizerName;
  hint?: HintLayers;
  hintWeight: number;
  baseline: boolean;
  seed: number;
  patience?: number;
  cacheTeacher: boolean;
  progress: boolean;
  display: boolean;
  inplace: boolean;
  studentWidth?: number;
}

/**
 * Limits of distill()'s numeric options, declared once: %distill's flags
 * spread them in (a bad literal fails before the cell runs) and
 * checkOptions checks function callers against the same objects.
 */
const POSITIVE_INT = { integer: true, min: 1 } as const;

export const DISTILL_LIMITS = {
  temperature: TEMPERATURE,
  alpha: ALPHA,
  studentWidth: WIDTH,
  epochs: POSITIVE_INT,
  batchSize: POSITIVE_INT,
  patience: POSITIVE_INT,
  lr: { above: 0 },
  hintWeight: { min: 0 },
  seed: { integer: true },
} as const satisfies Record<string, NumberRule>;

const KEYS = [
  "data", "val", "test", "temperature", "alpha", "epochs", "batchSize", "lr", "optimizer", "hint", "hintWeight", "baseline",
  "seed", "patience", "cacheTeacher", "signal", "callbacks", "progress", "display", "student", "studentWidth", "inplace",
];

function positiveInt(value: unknown, name: string): number {
  if (!fitsNumberRule(value, POSITIVE_INT)) {
    throw new SlimlabError("E_ARG", `distill: ${name} ${show(value)} is not allowed: pass a positive integer`);
  }
  return value as number;
}

function flag(value: unknown, name: string, def: boolean): boolean {
  if (value === undefined) return def;
  if (typeof value !== "boolean") throw new SlimlabError("E_ARG", `distill: ${name} ${show(value)} is not allowed: pass true or false`);
  return value;
}

/**
 * Checks every scalar option and fills in defaults; models and data are
 * checked by distill() itself.
 *
 * @param options what the caller passed
 * @returns the settings
 * @throws SlimlabError E_ARG naming the first bad option, its value and what is allowed;
 *   E_MISSING_ARG when `data` or the student choice is missing
 * @example
 *   checkOptions({ data, studentWidth: 0.5 }).temperature; // 4
 */
export function checkOptions(options: DistillOptions): Settings {
  if (typeof options !== "object" || options === null) {
    throw new SlimlabError("E_ARG", `distill: options ${show(options)} are not allowed: pass an object such as { data, studentWidth: 0.5 }`);
  }
  for (const key of Object.keys(options)) {
    if (!KEYS.includes(key)) throw new SlimlabError("E_ARG", `distill: unknown option ${show(key)}${suggestion(key, KEYS)}; allowed: ${KEYS.join(", ")}`);
  }
  if (options.data === undefined) throw new SlimlabError("E_MISSING_ARG", `distill: data is missing: pass the training samples as data (--data <var>) holding {xs, ys}`);
  const d = DISTILL_DEFAULTS;
  const hasStudent = options.student !== undefined;
  const hasWidth = options.studentWidth !== undefined;
  if (hasStudent === hasWidth) {
    throw new SlimlabError(
      "E_ARG",
      hasStudent
        ? `distill: got both a student model and studentWidth ${show(options.studentWidth)}; pass one: a student, or studentWidth to build one from the teacher`
        : `distill: no student: pass a student model (%distill <teacher> <student>) or studentWidth (--student-width 0.5) to build a narrower copy of the teacher`
    );
  }
  const optimizer = options.optimizer ?? d.optimizer;
  if (!OPTIMIZER_NAMES.includes(optimizer)) {
    throw new SlimlabError("E_ARG", `distill: optimizer ${show(optimizer)} is not allowed${typeof optimizer === "string" ? suggestion(optimizer, OPTIMIZER_NAMES) : ""}; allowed: ${OPTIMIZER_NAMES.join(", ")}`);
  }
  const lr = options.lr;
  if (lr !== undefined && !fitsNumberRule(lr, DISTILL_LIMITS.lr)) {
    throw new SlimlabError("E_ARG", `distill: lr ${show(lr)} is not allowed: pass ${describeNumberRule(DISTILL_LIMITS.lr)}, e.g. 0.001`);
  }
  const hintWeight = options.hintWeight ?? d.hintWeight;
  if (!fitsNumberRule(hintWeight, DISTILL_LIMITS.hintWeight)) {
    throw new SlimlabError("E_ARG", `distill: hintWeight ${show(hintWeight)} is not allowed: pass ${describeNumberRule(DISTILL_LIMITS.hintWeight)}`);
  }
  if (options.hintWeight !== undefined && options.hint === undefined) {
    throw new SlimlabError("E_ARG", `distill: hintWeight ${show(options.hintWeight)} has no effect without hint: pass hint "teacherLayer:studentLayer" too`);
  }
  const seed = options.seed ?? d.seed;
  checkSeed(seed, "distill: seed");
  const patience = options.patience === undefined ? undefined : positiveInt(options.patience, "patience");
  if (patience !== undefined && options.val === undefined) {
    throw new SlimlabError("E_ARG", `distill: patience ${patience} needs validation data: pass val (--val <var>)`);
  }
  const inplace = (options as { inplace?: unknown }).inplace;
  if (options.studentWidth !== undefined && inplace !== undefined) {
    throw new SlimlabError("E_ARG", `distill: inplace ${show(inplace)} does not apply to studentWidth: the student is a new model; pass a student model to train it in place`);
  }
  return {
    temperature: checkTemperature(options.temperature ?? d.temperature, "distill"),
    alpha: checkAlpha(options.alpha ?? d.alpha, "distill"),
    epochs: positiveInt(options.epochs ?? d.epochs, "epochs"),
    batchSize: positiveInt(options.batchSize ?? d.batchSize, "batchSize"),
    lr,
    optimizer,
    hint: options.hint === undefined ? undefined : parseHint(options.hint),
    hintWeight,
    baseline: flag(options.baseline, "baseline", false),
    seed,
    patience,
    cacheTeacher: flag(options.cacheTeacher, "cacheTeacher", true),
    progress: flag(options.progress, "progress", true),
    display: flag(options.display, "display", true),
    inplace: flag(inplace, "inplace", false),
    studentWidth: options.studentWidth === undefined ? undefined : checkWidth(options.studentWidth),
  };
}
