/**
 * distill(): trains a student to match a teacher's temperature-softened
 * outputs (Hinton, Vinyals & Dean 2015), optionally with a hint layer
 * (Romero et al. 2015), and optionally beside a hard-label baseline of the
 * same student, so that the gain of distillation is a measured number.
 */
import * as tf from "@tensorflow/tfjs";
import { SlimlabError } from "../core/errors";
import { plotlyBundle } from "../core/figure";
import { host, LiveDisplay } from "../core/host";
import { Row, tableBundle } from "../core/table";
import { cloneModel } from "../toolkit/clone";
import { assertFinite } from "../toolkit/finite";
import { requireModel } from "../toolkit/layers";
import { weightSnapshot } from "../toolkit/snapshot";
import { ChartRun, curvesFigure } from "./chart";
import { fmtShape, prepareData } from "./data";
import { hintLoss, hintProjection, resolveHint } from "./hint";
import { LoopHistory, LoopOptions, Objective, OneHotData, Score, runLoop, scoreLogits } from "./loop";
import { distillationLoss, hardLabelLoss } from "./loss";
import { allLogits, forward, logitsNet, withFeature } from "./nets";
import { checkOptions, DistillOptions, Settings } from "./options";
import { narrowStudent } from "./student";

/** A trained student, its run and its score on the test samples. */
export interface StudentRun {
  student: tf.LayersModel;
  history: LoopHistory;
  /** On `test` (or `val`); absent without such data. */
  score?: Score;
}

/** One line of the final table. */
export interface ComparisonRow extends Row {
  model: "teacher" | "distilled student" | "baseline student";
  params: number;
  accuracy: number;
  errors: number;
  samples: number;
}

/** What distill() returns. The caller owns (and disposes) `student` and `baseline.student`. */
export interface DistillResult extends StudentRun {
  teacherScore?: Score;
  /** With `baseline`: the same student trained on hard labels only, same budget and seed. */
  baseline?: StudentRun;
  /** Teacher, distilled and baseline student on the test samples. */
  comparison?: ComparisonRow[];
  /** (baseline errors − distilled errors) / (baseline errors − teacher errors), when the teacher is better than the baseline. */
  gapClosed?: number;
}

/** The student checks that need no copy: one output of the teacher's shape, the same input shape. */
function checkStudent(teacher: tf.LayersModel, student: tf.LayersModel): void {
  const s = requireModel(student, "distill");
  const to = teacher.outputs[0].shape;
  const so = s.outputs.length === 1 ? s.outputs[0].shape : undefined;
  if (so === undefined || so.length !== to.length || so.some((d, i) => i > 0 && d !== to[i])) {
    const got = so === undefined ? `${s.outputs.length} outputs` : `outputs ${fmtShape(so)}`;
    throw new SlimlabError("E_MODEL", `distill: student "${s.name}" has ${got} but teacher "${teacher.name}" outputs ${fmtShape(to)}; the student must predict the same classes (one output of the same shape)`);
  }
  const ti = teacher.inputs[0].shape;
  const si = s.inputs[0].shape;
  if (s.inputs.length !== 1 || si.length !== ti.length || si.some((d, i) => i > 0 && d !== ti[i])) {
    throw new SlimlabError("E_MODEL", `distill: student "${s.name}" takes ${fmtShape(si)} but teacher "${teacher.name}" takes ${fmtShape(ti)}; both must read the same samples`);
  }
  logitsNet(s);
}

/** The distillation objective (or, with α = 0 and no hint, plain cross-entropy). */
function distillObjective(teacher: tf.LayersModel, student: tf.LayersModel, s: Settings, cache: tf.Tensor | undefined, projection: tf.Variable | undefined, hintNets?: [tf.LayersModel, tf.LayersModel]): Objective {
  const teacherNet = hintNets?.[0] ?? logitsNet(teacher);
  const studentNet = hintNets?.[1] ?? logitsNet(student);
  const needsTeacher = s.alpha > 0 || s.hint !== undefined;
  return {
    vars: [...student.trainableWeights.map((w) => w.read() as tf.Variable), ...(projection ? [projection] : [])],
    targets: (idx, xb) => (!needsTeacher ? [] : cache !== undefined ? [tf.gather(cache, idx)] : forward(teacherNet, xb, false)),
    loss: (xb, yb, targets) => {
      const [zs, fs] = forward(studentNet, xb, true);
      let loss = s.alpha > 0 ? distillationLoss(targets[0], zs, yb, s) : hardLabelLoss(yb, zs);
      if (hintNets !== undefined) loss = tf.add(loss, tf.mul(hintLoss(targets[1], fs, projection), s.hintWeight));
      return { loss, logits: zs };
    },
  };
}

/** Plain cross-entropy on hard labels: the baseline's objective. */
function hardObjective(student: tf.LayersModel): Objective {
  const net = logitsNet(student);
  return {
    vars: student.trainableWeights.map((w) => w.read() as tf.Variable),
    targets: () => [],
    loss: (xb, yb) => {
      const [zs] = forward(net, xb, true);
      return { loss: hardLabelLoss(yb, zs), logits: zs };
    },
  };
}

const logitsOf = (model: tf.LayersModel) => {
  const net = logitsNet(model);
  return (x: tf.Tensor) => forward(net, x, false)[0];
};

/** The final table and its one-line summary. */
function compare(teacher: tf.LayersModel, teacherScore: Score, student: StudentRun, baseline: StudentRun | undefined): { rows: ComparisonRow[]; gapClosed?: number; summary: string } {
  const row = (model: ComparisonRow["model"], m: tf.LayersModel, sc: Score): ComparisonRow => ({
    model,
    params: m.countParams(),
    accuracy: Number(sc.accuracy.toFixed(4)),
    errors: sc.errors,
    samples: sc.samples,
  });
  const rows = [row("teacher", teacher, teacherScore), row("distilled student", student.student, student.score as Score)];
  if (baseline?.score === undefined) return { rows, summary: `distilled student: ${student.score?.errors} test errors, teacher: ${teacherScore.errors} (of ${teacherScore.samples})` };
  rows.push(row("baseline student", baseline.student, baseline.score));
  const eb = baseline.score.errors;
  const es = (student.score as Score).errors;
  const gap = eb - teacherScore.errors;
  const gapClosed = gap > 0 ? (eb - es) / gap : undefined;
  const closed = gapClosed === undefined ? "the teacher is not better than the baseline" : `${(gapClosed * 100).toFixed(0)}% of the baseline–teacher gap of ${gap} closed`;
  return { rows, gapClosed, summary: `distillation gain on ${teacherScore.samples} test samples: baseline ${eb} errors → distilled ${es} (${eb - es} fewer; ${closed})` };
}

/**
 * Distils `teacher` into a student (Hinton, Vinyals & Dean 2015): the student
 * minimises α · T² · KL(softmax(z_t/T) ‖ softmax(z_s/T)) + (1 − α) · CE(y, softmax(z_s))
 * on logits, plus with `hint` the MSE between two layers' activations
 * through a learned projection (FitNets). The teacher is never changed.
 *
 * Training shows a progress bar (epoch, step, loss, samples/s, ETA) and a
 * Plotly chart of loss and accuracy redrawn each epoch; at the end a table of
 * teacher / distilled / baseline test errors. An interrupt (host().signal())
 * stops at the next batch boundary with SlimlabError E_INTERRUPTED: the
 * models made here are freed and an `inplace` student gets its weights back,
 * so nothing of the stopped run is left and the rest of the cell does not run.
 * Runs with models without dropout are bit-reproducible for a seed.
 *
 * @param teacher a built single-output classifier ending in softmax (or linear logits)
 * @param options data, the student (a model, or studentWidth), temperature,
 *   alpha, epochs, batchSize, lr, hint, baseline, seed, patience, ... (see DistillOptions)
 * @returns the trained student (a new model unless inplace), its history, and
 *   with `baseline` the hard-label student and the comparison
 * @throws SlimlabError before anything is trained: E_TYPE/E_MODEL for a bad
 *   teacher or student (output shapes differ, no softmax to strip), E_ARG for
 *   a bad option (T ≤ 0, α outside [0, 1], a hint layer that does not exist),
 *   E_DATA/E_TYPE for empty or mismatched data, E_MODEL for NaN/Inf weights
 *   in the teacher or student; E_INTERRUPTED when the user interrupts (an
 *   `inplace` student is then, as on any error, restored exactly)
 * @example
 *   const r = await distill(teacher, { data: train, val, test, studentWidth: 0.5, temperature: 4, alpha: 0.9, epochs: 5, baseline: true });
 *   r.comparison; // teacher / distilled / baseline test errors
 */
export async function distill(teacher: tf.LayersModel, options: DistillOptions): Promise<DistillResult> {
  const t = requireModel(teacher, "distill");
  const s = checkOptions(options);
  logitsNet(t);
  if (options.student !== undefined) checkStudent(t, options.student);
  assertFinite(t, "distill", "distilling it");
  if (options.student !== undefined) assertFinite(options.student, "distill", "distilling into it");
  const classes = t.outputs[0].shape[t.outputs[0].shape.length - 1] as number;
  const inputShape = t.inputs[0].shape;
  const owned: tf.Tensor[] = [];
  const models: tf.LayersModel[] = [];
  const saved = s.inplace && options.student !== undefined ? weightSnapshot(options.student) : undefined;
  const leaves = saved ? "the student got its weights back; run the cell again to start over" : "no student was kept; run the cell again to start over";
  let ok = false;
  try {
    const train = await prepareData(options.data, "data", inputShape, classes);
    owned.push(train.xs, train.ys);
    const prep = async (v: unknown, name: string): Promise<OneHotData | undefined> => {
      if (v === undefined) return undefined;
      const d = await prepareData(v, name, inputShape, classes);
      owned.push(d.xs, d.ys);
      return d;
    };
    const val = await prep(options.val, "val");
    const test = (await prep(options.test, "test")) ?? val;

    const student =
      options.student === undefined ? narrowStudent(t, s.studentWidth as number, s.seed) : s.inplace ? options.student : cloneModel(options.student);
    if (student !== options.student) models.push(student);
    const hint = s.hint === undefined ? undefined : resolveHint(t, student, s.hint);
    const baselineModel = s.baseline ? cloneModel(student) : undefined;
    if (baselineModel !== undefined) models.push(baselineModel);

    const projection = hint === undefined ? undefined : hintProjection(hint, s.seed + 1);
    if (projection !== undefined) owned.push(projection);
    const hintNets: [tf.LayersModel, tf.LayersModel] | undefined =
      hint === undefined ? undefined : [withFeature(logitsNet(t), hint.teacherOutput), withFeature(logitsNet(student), hint.studentOutput)];
    const cache = s.cacheTeacher && hint === undefined && s.alpha > 0 ? allLogits(logitsNet(t), train.xs, Math.max(256, s.batchSize)) : undefined;
    if (cache !== undefined) owned.push(cache);

    const signal = options.signal ?? host().signal();
    const runs: ChartRun[] = [];
    const title = `distill ${t.name} → ${student.name} (T = ${s.temperature}, α = ${s.alpha})`;
    const live: LiveDisplay | undefined = s.display ? host().liveDisplay(plotlyBundle(curvesFigure(runs, title))) : undefined;
    const loopOptions = (label: string, run: ChartRun): LoopOptions => ({
      label,
      epochs: s.epochs,
      batchSize: s.batchSize,
      seed: s.seed,
      optimizer: s.optimizer,
      lr: s.lr,
      patience: s.patience,
      validation: val,
      signal,
      leaves,
      callbacks: options.callbacks,
      progress: s.progress,
      onHistory: (h) => {
        run.history = h;
        live?.update(plotlyBundle(curvesFigure(runs, title)));
      },
    });

    const distilledRun: ChartRun = { name: "distilled", history: { epochs: [], steps: 0, stoppedEarly: false, seconds: 0 } };
    runs.push(distilledRun);
    const objective = distillObjective(t, student, s, cache, projection, hintNets);
    const history = await runLoop(student, logitsOf(student), train, objective, loopOptions(`distill ${student.name}`, distilledRun));
    const result: DistillResult = { student, history };

    if (baselineModel !== undefined) {
      const baselineRun: ChartRun = { name: "baseline", history: { epochs: [], steps: 0, stoppedEarly: false, seconds: 0 } };
      runs.push(baselineRun);
      const bh = await runLoop(baselineModel, logitsOf(baselineModel), train, hardObjective(baselineModel), loopOptions(`baseline ${baselineModel.name}`, baselineRun));
      result.baseline = { student: baselineModel, history: bh };
    }

    if (test !== undefined) {
      const chunk = Math.max(256, s.batchSize);
      const stop = { signal, leaves };
      result.teacherScore = await scoreLogits(logitsOf(t), test, chunk, stop);
      result.score = await scoreLogits(logitsOf(student), test, chunk, stop);
      if (result.baseline) result.baseline.score = await scoreLogits(logitsOf(result.baseline.student), test, chunk, stop);
      const table = compare(t, result.teacherScore, result, result.baseline);
      result.comparison = table.rows;
      if (table.gapClosed !== undefined) result.gapClosed = table.gapClosed;
      if (s.display) {
        host().display(tableBundle(table.rows));
        host().display({ "text/plain": table.summary });
      }
    }
    ok = true;
    return result;
  } finally {
    tf.dispose(owned);
    // On a throw (bad hint, a callback's error, an interrupt) the caller
    // never gets the models made here, and an in-place student is put back.
    if (!ok) models.forEach((m) => m.dispose());
    if (ok) saved?.discard();
    else saved?.restore();
  }
}
