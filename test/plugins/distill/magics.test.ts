import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { helpText, invokeMagic, usage } from "../../../plugins/core/magic";
import { distill } from "../../../plugins/distill/distill";
import { distillMagic } from "../../../plugins/distill/magics";
import { layerWidths } from "../../../plugins/distill/student";
import { train } from "../../../plugins/toolkit/train";
import { assertRejects, blobs, mlp3, recordingHost, suiteBackend, weightsOf, withHost } from "./helpers";

describe("distill/magics", () => {
  suiteBackend("cpu");
  let teacher: tf.Sequential;
  let data: { xs: tf.Tensor2D; ys: tf.Tensor1D };
  before(async () => {
    teacher = mlp3(16, 1, "teacher");
    data = blobs(48, 1);
    await train(teacher, data, { epochs: 5, batchSize: 16, seed: 1, lr: 0.01, progress: false });
  });
  after(() => {
    teacher.dispose();
    tf.dispose([data.xs, data.ys]);
  });

  it("declares the documented line: %distill <teacher> [<student>] --data ... --seed N", () => {
    const u = usage(distillMagic);
    assert.ok(u.startsWith("%distill <teacher> [<student>] --data DATA [--val VAL]"), u);
    for (const f of ["--temperature", "--alpha", "--epochs", "--batch-size", "--lr", "--student-width", "--hint", "--baseline", "--seed", "--patience", "--inplace"]) {
      assert.ok(u.includes(`[${f}`), `${f} in ${u}`);
    }
    assert.match(helpText(distillMagic), /--temperature  softmax temperature T > 0 of the soft targets \(> 0\) \(default: 4\)/);
    assert.match(helpText(distillMagic), /--alpha  .* \(>= 0 and <= 1\) \(default: 0\.9\)/);
    assert.match(helpText(distillMagic), /-o, --output  return the whole DistillResult/);
  });

  it("runs the same code as distill() and returns the trained student (a new model)", async () => {
    const student = mlp3(4, 9, "student");
    const initial = weightsOf(student);
    const flags = { data, temperature: 3, alpha: 0.7, epochs: 2, batchSize: 16, lr: 0.01, seed: 4 };
    const rec = recordingHost();
    const fromMagic = await withHost(rec.host, () => invokeMagic(distillMagic, [teacher, student], flags));
    const fromFn = await distill(teacher, { ...flags, student, progress: false, display: false });
    assert.ok(fromMagic instanceof tf.LayersModel);
    assert.notStrictEqual(fromMagic, student);
    assert.deepStrictEqual(weightsOf(fromMagic), weightsOf(fromFn.student));
    assert.deepStrictEqual(weightsOf(student), initial, "the user's student is untouched without --inplace");
    assert.deepStrictEqual(rec.bars.map((b) => b.end), ["done"]);
    const inplace = await withHost(rec.host, () => invokeMagic(distillMagic, [teacher, student], { ...flags, inplace: true }));
    assert.strictEqual(inplace, student);
    [fromMagic, fromFn.student, student].forEach((m) => m.dispose());
  });

  it("builds the student with --student-width and trains a baseline with --baseline", async () => {
    const rec = recordingHost();
    const count = tf.memory().numTensors;
    const s = await withHost(rec.host, () => invokeMagic(distillMagic, [teacher], { data, val: data, studentWidth: 0.5, epochs: 1, baseline: true }));
    assert.deepStrictEqual(layerWidths(s), { h1: 8, h2: 8, out: 3 });
    assert.deepStrictEqual(rec.bars.map((b) => b.label), ["distill teacher_student", "baseline teacher_student"]);
    assert.ok(rec.displays.some((d) => /baseline student/.test(String(d["text/html"]))), "the comparison table is shown");
    s.dispose();
    assert.strictEqual(tf.memory().numTensors, count, "the baseline student is freed, nothing else is left");
  });

  it("-o gives the whole DistillResult and keeps the baseline student", async () => {
    const rec = recordingHost();
    const count = tf.memory().numTensors;
    const r = await withHost(rec.host, () => invokeMagic(distillMagic, [teacher], { data, val: data, studentWidth: 0.5, epochs: 1, baseline: true, output: true }));
    assert.ok(r.student instanceof tf.LayersModel);
    assert.ok(r.baseline?.student instanceof tf.LayersModel);
    assert.ok(!r.baseline.student.layers[0].getWeights()[0].isDisposed, "the baseline student is not freed with -o");
    r.student.dispose();
    r.baseline.student.dispose();
    assert.strictEqual(tf.memory().numTensors, count);
  });

  it("reports bad lines in one line", async () => {
    await assertRejects(invokeMagic(distillMagic, [], { data }), "E_MISSING_ARG", /^%distill: missing <teacher>/);
    await assertRejects(invokeMagic(distillMagic, [teacher], { data }), "E_ARG",
      "distill: no student: pass a student model (%distill <teacher> <student>) or studentWidth (--student-width 0.5) to build a narrower copy of the teacher");
    await assertRejects(invokeMagic(distillMagic, [teacher], { studentWidth: 0.5 }), "E_MISSING_ARG",
      /^%distill: missing --data \(training samples .*\); add --data <var>, e\.g\. const s = %distill teacher --data train/);
    // The declaration's limits are the ones distill() checks: the magic refuses first, the function the same values.
    await assertRejects(invokeMagic(distillMagic, [teacher], { data, studentWidth: 0.5, temperature: "-1" }), "E_ARG",
      '%distill: --temperature got "-1"; expected a number > 0');
    await assertRejects(distill(teacher, { data, studentWidth: 0.5, temperature: -1 }), "E_ARG",
      "distill: temperature -1 is not allowed: pass a number > 0, e.g. 4 (Hinton et al. 2015 used 20 on MNIST)");
    await assertRejects(invokeMagic(distillMagic, [teacher], { data, studentWidth: 0, alpha: 0.5 }), "E_ARG",
      "%distill: --student-width got 0; expected a number > 0");
    await assertRejects(invokeMagic(distillMagic, [teacher], { data, studentWidth: 0.5, alpha: 1.5 }), "E_ARG",
      "%distill: --alpha got 1.5; expected a number >= 0 and <= 1");
    await assertRejects(invokeMagic(distillMagic, [teacher], { data, studentWidth: 0.5, temprature: 2 }), "E_UNKNOWN_FLAG", /^%distill: unknown flag --temprature \(did you mean --temperature\?\)/);
    await assertRejects(invokeMagic(distillMagic, [teacher], { data, studentWidth: 0.5, hint: "h1:dense_9" }), "E_ARG",
      'distill: hint student layer "dense_9" does not exist in model "teacher_student"; layers: h1, h2, out');
  });
});
