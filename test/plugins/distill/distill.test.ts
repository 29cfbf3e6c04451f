import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { distill, DistillResult } from "../../../plugins/distill/distill";
import type { DistillOptions } from "../../../plugins/distill/options";
import { layerWidths } from "../../../plugins/distill/student";
import { train } from "../../../plugins/toolkit/train";
import { assertRejects, blobs, mlp3, recordingHost, suiteBackend, weightsOf, withHost } from "./helpers";

type Common = Omit<DistillOptions, "student" | "studentWidth" | "inplace">;

function release(r: DistillResult): void {
  r.student.dispose();
  r.baseline?.student.dispose();
}

describe("distill/distill", () => {
  suiteBackend("cpu");
  let teacher: tf.Sequential;
  let data: { xs: tf.Tensor2D; ys: tf.Tensor1D };
  let val: { xs: tf.Tensor2D; ys: tf.Tensor1D };
  const quiet = { progress: false, display: false } as const;
  let base: Common;

  before(async () => {
    teacher = mlp3(16, 1, "teacher");
    data = blobs(60, 1);
    val = blobs(30, 2);
    await train(teacher, data, { epochs: 10, batchSize: 16, seed: 1, lr: 0.01, progress: false });
    base = { data, val, temperature: 3, alpha: 0.8, epochs: 3, batchSize: 16, lr: 0.01, seed: 5, ...quiet };
  });
  after(() => {
    teacher.dispose();
    tf.dispose([data.xs, data.ys, val.xs, val.ys]);
  });

  describe("bad input: one line naming the value, nothing trained", () => {
    let student: tf.Sequential;
    let before: number[][];
    beforeEach(() => {
      student = mlp3(4, 9, "student");
      before = weightsOf(student);
    });
    afterEach(() => {
      assert.deepStrictEqual(weightsOf(student), before, "student weights bit-identical");
      student.dispose();
    });
    const cases: [string, () => DistillOptions, string, string | RegExp][] = [
      ["T ≤ 0", () => ({ ...base, student, inplace: true, temperature: 0 }), "E_ARG", "distill: temperature 0 is not allowed: pass a number > 0, e.g. 4 (Hinton et al. 2015 used 20 on MNIST)"],
      ["T < 0", () => ({ ...base, student, temperature: -2 }), "E_ARG", "distill: temperature -2 is not allowed: pass a number > 0, e.g. 4 (Hinton et al. 2015 used 20 on MNIST)"],
      ["α > 1", () => ({ ...base, student, inplace: true, alpha: 1.2 }), "E_ARG", "distill: alpha 1.2 is not allowed: pass a number in [0, 1] (the soft term's weight, e.g. 0.9; 0 trains on hard labels only)"],
      ["α < 0", () => ({ ...base, student, alpha: -0.1 }), "E_ARG", "distill: alpha -0.1 is not allowed: pass a number in [0, 1] (the soft term's weight, e.g. 0.9; 0 trains on hard labels only)"],
      ["missing hint layer", () => ({ ...base, student, inplace: true, hint: "h1:fc9" }), "E_ARG", 'distill: hint student layer "fc9" does not exist in model "student"; layers: h1, h2, out'],
      ["both student and width", () => ({ ...base, student, studentWidth: 0.5 } as unknown as DistillOptions), "E_ARG", "distill: got both a student model and studentWidth 0.5; pass one: a student, or studentWidth to build one from the teacher"],
      ["patience without val", () => ({ ...base, val: undefined, student, patience: 2 }), "E_ARG", "distill: patience 2 needs validation data: pass val (--val <var>)"],
      ["unknown option", () => ({ ...base, student, temprature: 2 } as unknown as DistillOptions), "E_ARG", /^distill: unknown option "temprature" \(did you mean temperature\?\); allowed: data, val/],
    ];
    for (const [what, options, code, message] of cases) {
      it(what, async () => assertRejects(distill(teacher, options()), code, message));
    }

    it("teacher and student output shapes differ", async () => {
      const four = tf.sequential({ name: "four", layers: [tf.layers.dense({ units: 4, activation: "softmax", inputShape: [4] })] });
      await assertRejects(distill(teacher, { ...base, student: four, inplace: true }), "E_MODEL",
        'distill: student "four" has outputs [batch, 4] but teacher "teacher" outputs [batch, 3]; the student must predict the same classes (one output of the same shape)');
      four.dispose();
    });

    it("empty data", async () => {
      const empty = { xs: tf.zeros([0, 4]), ys: tf.zeros([0]) };
      await assertRejects(distill(teacher, { ...base, student, inplace: true, data: empty }), "E_DATA", "data.xs has shape [0, 4], allowed: at least one example along axis 0");
      tf.dispose([empty.xs, empty.ys]);
    });

    it("mismatched data: xs and ys lengths, xs and the input shape, labels and classes", async () => {
      const short = { xs: data.xs, ys: tf.zeros([59]) };
      await assertRejects(distill(teacher, { ...base, student, inplace: true, data: short }), "E_DATA", "data.xs has 60 examples but data.ys has 59 labels: they must match along axis 0");
      const wide = { xs: tf.zeros([5, 6]), ys: tf.zeros([5]) };
      await assertRejects(distill(teacher, { ...base, student, val: wide }), "E_DATA",
        'distill: val.xs has shape [5, 6] but the models take [batch, 4]; reshape the samples (for MNIST MLPs: loadMnist({shape: "flat"}))');
      const labels = { xs: tf.zeros([2, 4]), ys: tf.tensor1d([0, 7]) };
      await assertRejects(distill(teacher, { ...base, student, data: labels }), "E_DATA", "toOneHot(ys) got label 7 at index 1, allowed: integers 0..2");
      tf.dispose([short.ys, wide.xs, wide.ys, labels.xs, labels.ys]);
    });

    it("leaves no tensors behind after a rejection", async () => {
      const count = tf.memory().numTensors;
      await assertRejects(distill(teacher, { ...base, student, hint: "h1:nope" }), "E_ARG", /hint student layer "nope"/);
      await assertRejects(distill(teacher, { ...base, studentWidth: 0.5, hint: "nope:h1" }), "E_ARG", /hint teacher layer "nope"/);
      assert.strictEqual(tf.memory().numTensors, count);
    });
  });

  it("trains a copy by default, the given model with inplace; bit-reproducible for a seed", async () => {
    const student = mlp3(4, 9, "student");
    const initial = weightsOf(student);
    const a = await distill(teacher, { ...base, student });
    const b = await distill(teacher, { ...base, student });
    assert.notStrictEqual(a.student, student);
    assert.deepStrictEqual(weightsOf(student), initial, "the user's student is untouched");
    assert.deepStrictEqual(weightsOf(a.student), weightsOf(b.student));
    assert.notDeepStrictEqual(weightsOf(a.student), initial);
    const c = await distill(teacher, { ...base, student, inplace: true });
    assert.strictEqual(c.student, student);
    assert.deepStrictEqual(weightsOf(student), weightsOf(a.student));
    release(a);
    release(b);
    student.dispose();
  });

  it("builds a narrower copy of the teacher with studentWidth", async () => {
    const r = await distill(teacher, { ...base, studentWidth: 0.25 });
    assert.deepStrictEqual(layerWidths(r.student), { h1: 4, h2: 4, out: 3 });
    assert.strictEqual(r.history.steps, 3 * 4);
    release(r);
  });

  it("gives the same weights with the teacher's logits cached or recomputed per batch", async () => {
    const a = await distill(teacher, { ...base, studentWidth: 0.5 });
    const b = await distill(teacher, { ...base, studentWidth: 0.5, cacheTeacher: false });
    const [wa, wb] = [weightsOf(a.student), weightsOf(b.student)];
    wa.forEach((w, i) => w.forEach((v, j) => assert.ok(Math.abs(v - wb[i][j]) < 1e-5)));
    release(a);
    release(b);
  });

  it("baseline: the same student on hard labels with the same budget and seed (= a distillation run with α = 0)", async () => {
    const r = await distill(teacher, { ...base, studentWidth: 0.5, baseline: true });
    const hard = await distill(teacher, { ...base, studentWidth: 0.5, alpha: 0 });
    assert.ok(r.baseline !== undefined);
    assert.deepStrictEqual(weightsOf(r.baseline.student), weightsOf(hard.student));
    assert.strictEqual(r.baseline.history.steps, r.history.steps);
    assert.deepStrictEqual(r.comparison?.map((c) => c.model), ["teacher", "distilled student", "baseline student"]);
    const [tRow, sRow, bRow] = r.comparison ?? [];
    assert.strictEqual(sRow.errors, r.score?.errors);
    assert.strictEqual(bRow.errors, r.baseline.score?.errors);
    assert.strictEqual(tRow.samples, 30);
    assert.strictEqual(sRow.params, r.student.countParams());
    release(r);
    release(hard);
  });

  it("accepts a tf.data.Dataset and gives the same student as the tensors", async () => {
    const ds = tf.data.zip({ xs: tf.data.array(tf.unstack(data.xs)), ys: tf.data.array(tf.unstack(data.ys)) }).batch(7) as unknown as tf.data.Dataset<{ xs: tf.Tensor; ys: tf.Tensor }>;
    const count = tf.memory().numTensors;
    const a = await distill(teacher, { ...base, studentWidth: 0.5, data: ds });
    const b = await distill(teacher, { ...base, studentWidth: 0.5 });
    assert.deepStrictEqual(weightsOf(a.student), weightsOf(b.student));
    release(a);
    release(b);
    assert.strictEqual(tf.memory().numTensors, count);
  });

  it("trains with a hint through a learned projection", async () => {
    const student = mlp3(4, 9, "student");
    const r = await distill(teacher, { ...base, student, hint: "h2:h1", hintWeight: 0.5, baseline: true });
    const plain = await distill(teacher, { ...base, student });
    assert.notDeepStrictEqual(weightsOf(r.student), weightsOf(plain.student), "the hint changes training");
    assert.ok(r.history.epochs.every((e) => Number.isFinite(e.loss)));
    release(r);
    release(plain);
    student.dispose();
  });

  it("early stopping: patience keeps the best validation epoch's weights", async () => {
    const r = await distill(teacher, { ...base, studentWidth: 0.5, epochs: 12, lr: 0.3, optimizer: "sgd", patience: 1 });
    const losses = r.history.epochs.map((e) => e.valLoss as number);
    const best = losses.indexOf(Math.min(...losses));
    assert.strictEqual(r.history.bestEpoch, best);
    assert.strictEqual(r.history.stoppedEarly, true);
    assert.strictEqual(r.history.epochs.length, best + 2, "stops one epoch after the best");
    assert.ok(Math.abs((r.score?.loss as number) - losses[best]) < 1e-6, "the student ends with the best epoch's weights");
    release(r);
  });

  describe("interrupt", () => {
    it("stops at the next batch with E_INTERRUPTED: no step after the abort, nothing kept, no tensor left", async () => {
      // 60 samples, batch 16: 4 steps per epoch; abort after step 6 = epoch 2, batch 2.
      const controller = new AbortController();
      const rec = recordingHost(controller.signal);
      const tensors = tf.memory().numTensors;
      let steps = 0;
      await withHost(rec.host, () =>
        assertRejects(
          distill(teacher, {
            ...base,
            studentWidth: 0.5,
            baseline: true,
            progress: true,
            display: true,
            callbacks: { onBatchEnd: (step) => void ((steps = step) === 6 && controller.abort()) },
          }),
          "E_INTERRUPTED",
          'distill: interrupted by the user after 6 of 12 steps (epoch 2/3, batch 3/4) of "distill teacher_student"; no student was kept; run the cell again to start over'
        )
      );
      assert.strictEqual(steps, 6, "no step after the abort");
      assert.strictEqual(tf.memory().numTensors, tensors, "the student, the baseline and the data copies are freed");
      assert.strictEqual(rec.bars.length, 1, "no baseline run after an interrupt");
      assert.strictEqual(rec.bars[0].end, "interrupted");
      assert.match(rec.bars[0].status ?? "", /^stopped after 6 steps /);
      assert.strictEqual(rec.displays.filter((d) => "text/html" in d && /distilled student/.test(String(d["text/html"]))).length, 0, "no final table");
    });

    it("an interrupt during the baseline or its validation frees everything; an in-place student gets its exact weights back", async () => {
      for (const abortAt of [12 + 5, 24]) {
        const controller = new AbortController();
        const student = mlp3(6, 4, "student");
        const before = weightsOf(student);
        const tensors = tf.memory().numTensors;
        let calls = 0;
        await assertRejects(
          distill(teacher, {
            ...base,
            student,
            inplace: true,
            baseline: true,
            signal: controller.signal,
            callbacks: { onBatchEnd: () => void (++calls === abortAt && controller.abort()) },
          }),
          "E_INTERRUPTED",
          abortAt === 24
            ? "distill: interrupted by the user while scoring 0 of 30 samples; the student got its weights back; run the cell again to start over"
            : /^distill: interrupted by the user after 5 of 12 steps \(epoch 2\/3, batch 2\/4\) of "baseline student"; the student got its weights back; /
        );
        assert.deepStrictEqual(weightsOf(student), before, "the in-place student is bit-identical to before");
        assert.strictEqual(tf.memory().numTensors, tensors, "no tensor left behind");
        student.dispose();
      }
    });
  });

  it("shows a progress bar per run, a live chart updated each epoch and a final table", async () => {
    const rec = recordingHost();
    const r = await withHost(rec.host, () => distill(teacher, { ...base, studentWidth: 0.5, baseline: true, progress: true, display: true }));
    assert.deepStrictEqual(rec.bars.map((b) => [b.label, b.total, b.updates, b.end]), [
      // 4 steps an epoch: the bar moves when loss and accuracy are read, at each epoch's end.
      ["distill teacher_student", 12, 3, "done"],
      ["baseline teacher_student", 12, 3, "done"],
    ]);
    assert.ok("application/vnd.plotly.v1+json" in rec.displays[0], "the first display is the chart");
    assert.strictEqual(rec.liveUpdates.length, 6, "one redraw per epoch and run");
    const last = rec.liveUpdates[5]["application/vnd.plotly.v1+json"] as { data: { name: string; y: number[] }[] };
    assert.deepStrictEqual(last.data.map((d) => d.name), [
      "distilled train loss", "distilled train acc", "distilled val loss (CE)", "distilled val acc",
      "baseline train loss", "baseline train acc", "baseline val loss (CE)", "baseline val acc",
    ]);
    assert.strictEqual(last.data[0].y.length, 3);
    assert.match(String(rec.displays[1]["text/html"]), /distilled student/);
    assert.match(String(rec.displays[2]["text/plain"]), /^distillation gain on 30 test samples: baseline \d+ errors → distilled \d+ /);
    release(r);
  });

  it("keeps memory flat across epochs and runs", async () => {
    const counts: number[] = [];
    const run = async () => {
      const r = await distill(teacher, { ...base, studentWidth: 0.5, epochs: 4, baseline: true, hint: "h1:h1", callbacks: { onEpochEnd: () => void counts.push(tf.memory().numTensors) } });
      release(r);
    };
    await run();
    const before = tf.memory().numTensors;
    await run();
    await run();
    assert.strictEqual(tf.memory().numTensors, before, "no tensors left over after a run");
    // Per run: 4 distilled epochs, then 4 baseline epochs (the baseline's first epoch count differs by its optimizer's slots).
    for (const start of [0, 8, 16]) {
      assert.deepStrictEqual(counts.slice(start + 1, start + 4), [counts[start], counts[start], counts[start]], `distilled epochs ${counts.slice(start, start + 4)}`);
      assert.deepStrictEqual(counts.slice(start + 5, start + 8), [counts[start + 4], counts[start + 4], counts[start + 4]], `baseline epochs ${counts.slice(start + 4, start + 8)}`);
    }
  });
});
