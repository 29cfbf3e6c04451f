import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { layerWidths, narrowStudent } from "../../../plugins/distill/student";
import { mlp } from "../../../plugins/models/zoo";
import { assertThrows, init, suiteBackend, weightsOf } from "./helpers";

/** [6, 6, 2] → conv1(4) → bn → relu → pool → flatten → fc(5) → out(3) → softmax activation layer. */
function convNet(seed: number): tf.LayersModel {
  const input = tf.input({ shape: [6, 6, 2] });
  let x = tf.layers.conv2d({ name: "conv1", filters: 4, kernelSize: 3, kernelInitializer: init(seed) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: "bn" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ name: "relu", activation: "relu" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ name: "pool", poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten({ name: "flat" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ name: "fc", units: 5, activation: "relu", kernelInitializer: init(seed + 1) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ name: "out", units: 3, kernelInitializer: init(seed + 2) }).apply(x) as tf.SymbolicTensor;
  const y = tf.layers.activation({ name: "softmax", activation: "softmax" }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: y, name: "conv_net" });
}

describe("distill/student", () => {
  suiteBackend("cpu");

  it("scales hidden Dense units by w (Hinton et al.'s 2×1200 → 2×800) and keeps the output layer", () => {
    const teacher = mlp([1200, 1200], { seed: 1, name: "teacher" });
    const student = narrowStudent(teacher, 2 / 3, 5);
    assert.deepStrictEqual(layerWidths(student), { fc1: 800, fc2: 800, fc3: 10 });
    assert.strictEqual(student.name, "teacher_student");
    assert.ok(student instanceof tf.Sequential, "a Sequential teacher gives a Sequential student");
    assert.deepStrictEqual(layerWidths(teacher), { fc1: 1200, fc2: 1200, fc3: 10 }, "teacher unchanged");
    teacher.dispose();
    student.dispose();
  });

  it("keeps at least one unit, and narrows convolutions of functional models, keeping the Dense before a softmax layer", () => {
    const teacher = convNet(1);
    const tiny = narrowStudent(teacher, 0.01, 1);
    assert.deepStrictEqual(layerWidths(tiny), { conv1: 1, fc: 1, out: 3 });
    const half = narrowStudent(teacher, 0.5, 1);
    assert.deepStrictEqual(layerWidths(half), { conv1: 2, fc: 3, out: 3 }, "round(2.5) = 3");
    const out = tf.tidy(() => (half.predict(tf.ones([2, 6, 6, 2])) as tf.Tensor).shape);
    assert.deepStrictEqual(out, [2, 3]);
    [teacher, tiny, half].forEach((m) => m.dispose());
  });

  it("draws fresh seeded weights: same seed bit-identical, another seed different", () => {
    const teacher = mlp([8], { seed: 1 });
    const [a, b, c] = [narrowStudent(teacher, 0.5, 7), narrowStudent(teacher, 0.5, 7), narrowStudent(teacher, 0.5, 8)];
    assert.deepStrictEqual(weightsOf(a), weightsOf(b));
    assert.notDeepStrictEqual(weightsOf(a), weightsOf(c));
    [teacher, a, b, c].forEach((m) => m.dispose());
  });

  it("rejects a width that is not a number > 0", () => {
    const teacher = mlp([8], { seed: 1 });
    for (const w of [0, -1, Number.NaN]) {
      assertThrows(() => narrowStudent(teacher, w, 1), "E_ARG", `distill: studentWidth ${w} is not allowed: pass a number > 0, e.g. 0.5 for half the units and filters`);
    }
    teacher.dispose();
  });

  it("leaks no tensors beyond the new model's weights", () => {
    const teacher = mlp([8], { seed: 1 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) narrowStudent(teacher, 0.5, i).dispose();
    assert.strictEqual(tf.memory().numTensors, before);
    teacher.dispose();
  });
});
