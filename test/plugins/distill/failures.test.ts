/**
 * distill when a run fails or is interrupted part way: the models it made
 * are freed (with the optimizers of compiled copies), an `inplace` student
 * gets its exact weights back, and every loop (distilled and baseline
 * epochs, validation and test scoring) stops at its next step.
 */
import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { distill } from "../../../plugins/distill/distill";
import { distillMagic } from "../../../plugins/distill/magics";
import { invokeMagic } from "../../../plugins/core/magic";
import { train } from "../../../plugins/toolkit/train";
import { interruptSweep } from "../../support/interrupt";
import { blobs, mlp3, recordingHost, suiteBackend, weightsOf, withHost } from "./helpers";

const variables = () => Object.keys(tf.engine().registeredVariables).length;

describe("distill failures and interrupts", () => {
  suiteBackend("cpu");
  let teacher: tf.Sequential;
  let data: { xs: tf.Tensor2D; ys: tf.Tensor1D };
  let val: { xs: tf.Tensor2D; ys: tf.Tensor1D };
  const quiet = { progress: false, display: false } as const;
  before(async () => {
    teacher = mlp3(16, 1, "teacher");
    data = blobs(40, 1);
    val = blobs(20, 2);
    await train(teacher, data, { epochs: 4, batchSize: 16, seed: 1, lr: 0.01, progress: false });
  });
  after(() => {
    teacher.dispose();
    tf.dispose([data.xs, data.ys, val.xs, val.ys]);
  });

  it("a callback that throws in the baseline run frees both students; an in-place student is restored bit for bit", async () => {
    const student = mlp3(6, 4, "student");
    student.compile({ optimizer: "adam", loss: "categoricalCrossentropy" });
    const before = weightsOf(student);
    for (const inplace of [false, true]) {
      const [tensors, vars] = [tf.memory().numTensors, variables()];
      let steps = 0;
      await assert.rejects(
        distill(teacher, { data, val, student, inplace, baseline: true, epochs: 2, batchSize: 16, ...quiet, callbacks: { onBatchEnd: () => void (++steps === 8 && (() => { throw new Error("callback failed"); })()) } }),
        /^Error: callback failed$/
      );
      assert.deepStrictEqual(weightsOf(student), before, `inplace ${inplace}: the given student is bit-identical`);
      assert.deepStrictEqual([tf.memory().numTensors, variables()], [tensors, vars], `inplace ${inplace}: nothing left, Adam of the compiled copies included`);
    }
    // Success: the student and the baseline are the caller's; disposing them frees everything.
    const [tensors, vars] = [tf.memory().numTensors, variables()];
    const r = await distill(teacher, { data, student, baseline: true, epochs: 1, ...quiet });
    r.student.dispose();
    r.baseline?.student.dispose();
    assert.deepStrictEqual([tf.memory().numTensors, variables()], [tensors, vars]);
    student.dispose();
  });

  it("an interrupt anywhere (distilled run, baseline, validation, test scoring) stops at the next step and keeps nothing", async () => {
    await interruptSweep(() => distill(teacher, { data, val, test: val, studentWidth: 0.5, baseline: true, epochs: 2, batchSize: 16, ...quiet, progress: true }), {
      message: /^distill: interrupted by the user (after \d+ of 6 steps \(epoch [12]\/2, batch [123]\/3\) of "(distill|baseline) teacher_student"|while scoring \d+ of 20 samples); no student was kept; run the cell again to start over$/,
      at: [0, 0.2, 0.4, 0.6, 0.8, 0.99],
    });
  });

  it("%distill --inplace: an interrupt puts the student back bit for bit and the cell does not go on", async () => {
    const student = mlp3(6, 4, "student");
    const before = weightsOf(student);
    const controller = new AbortController();
    const rec = recordingHost(controller.signal);
    let steps = 0;
    const tensors = tf.memory().numTensors;
    await withHost(
      {
        ...rec.host,
        progress: (label, total) => {
          const bar = rec.host.progress(label, total);
          return { update: (d, s) => (bar.update(d, s), ++steps === 2 && controller.abort()), end: bar.end };
        },
      },
      () => assert.rejects(invokeMagic(distillMagic, [teacher, student], { data, inplace: true, epochs: 3, batchSize: 16 }), { code: "E_INTERRUPTED", message: 'distill: interrupted by the user after 6 of 9 steps (epoch 3/3, batch 1/3) of "distill student"; the student got its weights back; run the cell again to start over' })
    );
    // The bar moves at each epoch's end (3 steps an epoch), when loss and accuracy are read.
    assert.strictEqual(steps, 2, "no step after the interrupt");
    assert.deepStrictEqual(weightsOf(student), before);
    assert.strictEqual(tf.memory().numTensors, tensors);
    student.dispose();
  });
});
