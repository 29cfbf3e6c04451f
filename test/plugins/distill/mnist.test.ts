import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import * as assert from "assert";
import { registerWasmGradients } from "../../../plugins/backends/wasm-gradients";
import { loadMnist } from "../../../plugins/data/mnist";
import { distill } from "../../../plugins/distill/distill";
import { mlp } from "../../../plugins/models/zoo";
import { train } from "../../../plugins/toolkit/train";
import { suiteBackend } from "./helpers";

/*
 * Distillation's advantage is largest when the student sees few labelled
 * examples: a soft target carries the teacher's similarity structure
 * ("this 2 looks like a 3"), a hard label one bit of it (Hinton et al. 2015,
 * §3 and §6: soft targets let a model trained on 3% of the data generalise).
 * Teacher 784-128-10 on 2000 MNIST digits; students 784-16-10 on 300 of them,
 * 20 epochs, the same seed for both. Over seeds 1–5 the distilled student
 * made 25–45 fewer errors on 1000 test digits than its hard-label twin.
 */
describe("distill on an MNIST subset (wasm, about 10 s)", function () {
  this.timeout(120_000);
  suiteBackend("wasm");
  before(() => void registerWasmGradients());

  it("a distilled student beats its hard-label baseline", async () => {
    const trainSet = loadMnist({ split: "train", subset: 2000, shuffle: true, seed: 1, shape: "flat" });
    const test = loadMnist({ split: "test", subset: 1000, shape: "flat" });
    const few = { xs: trainSet.xs.slice(0, 300), ys: trainSet.ys.slice(0, 300) };
    const teacher = mlp([128], { seed: 1, name: "teacher" });
    await train(teacher, trainSet, { epochs: 6, batchSize: 64, seed: 1, progress: false });
    const student = mlp([16], { seed: 3, name: "student" });
    const r = await distill(teacher, {
      student,
      data: few,
      test,
      temperature: 4,
      alpha: 0.9,
      epochs: 20,
      batchSize: 32,
      lr: 0.01,
      seed: 3,
      baseline: true,
      progress: false,
      display: false,
    });
    const [t, s, b] = (r.comparison ?? []).map((row) => row.errors);
    assert.ok(t < s, `teacher ${t} errors, distilled ${s}`);
    assert.ok(s + 15 <= b, `distilled ${s} errors should be at least 15 fewer than the baseline's ${b}`);
    assert.ok((r.gapClosed ?? 0) > 0.3, `gap closed ${r.gapClosed}`);
    r.student.dispose();
    r.baseline?.student.dispose();
    [teacher, student].forEach((m) => m.dispose());
    tf.dispose([trainSet.xs, trainSet.ys, test.xs, test.ys, few.xs, few.ys]);
  });
});
