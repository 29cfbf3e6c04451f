import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { distillationLoss, hardLabelLoss, softTargetLoss } from "../../../plugins/distill/loss";
import { assertThrows, suiteBackend } from "./helpers";

/*
 * Hand-computed reference (double precision, plain arithmetic), batch of 2, C = 3, T = 2, α = 0.7:
 *   z_t = [[2, 1, 0], [0.5, −1, 1.5]],  z_s = [[1, 0.5, −0.5], [0, 0, 0]],  y = [0, 2]
 *   softmax(z_t/2) = [0.506480, 0.307196, 0.186324], [0.320401, 0.151347, 0.528252]
 *   softmax(z_s/2) = [0.444214, 0.345954, 0.209832], [1/3, 1/3, 1/3]
 *   KL per sample = Σ p_t ln(p_t/p_s) → mean 0.0594229986
 *   softmax(z_s)   = [0.546549, 0.331499, 0.121952], [1/3, 1/3, 1/3]
 *   CE = mean(−ln 0.546549, −ln 1/3) = 0.8513714470
 *   loss = 0.7 · 4 · 0.0594229986 + 0.3 · 0.8513714470 = 0.4217958303
 */
const KL = 0.059422998626193616;
const CE = 0.851371447002419;
const LOSS = 0.4217958302540678;

function value(t: tf.Scalar): number {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
}

describe("distill/loss", () => {
  suiteBackend("cpu");
  let zt: tf.Tensor2D;
  let zs: tf.Tensor2D;
  let y: tf.Tensor1D;
  let y1h: tf.Tensor2D;
  before(() => {
    zt = tf.tensor2d([[2, 1, 0], [0.5, -1, 1.5]]);
    zs = tf.tensor2d([[1, 0.5, -0.5], [0, 0, 0]]);
    y = tf.tensor1d([0, 2]);
    y1h = tf.tensor2d([[1, 0, 0], [0, 0, 1]]);
  });
  after(() => tf.dispose([zt, zs, y, y1h]));

  it("equals α·T²·KL + (1−α)·CE on fixed logits (hand-computed)", () => {
    assert.ok(Math.abs(value(distillationLoss(zt, zs, y, { temperature: 2, alpha: 0.7 })) - LOSS) < 1e-6);
    assert.ok(Math.abs(value(distillationLoss(zt, zs, y1h, { temperature: 2, alpha: 0.7 })) - LOSS) < 1e-6, "one-hot labels give the same loss");
    assert.ok(Math.abs(value(softTargetLoss(zt, zs, 2)) - 4 * KL) < 1e-6);
    assert.ok(Math.abs(value(hardLabelLoss(y, zs)) - CE) < 1e-6);
  });

  it("is plain cross-entropy at α = 0 and T²·KL at α = 1; the soft term is 0 when the student matches", () => {
    assert.ok(Math.abs(value(distillationLoss(zt, zs, y, { temperature: 2, alpha: 0 })) - CE) < 1e-6);
    assert.ok(Math.abs(value(distillationLoss(zt, zs, y, { temperature: 2, alpha: 1 })) - 4 * KL) < 1e-6);
    assert.ok(Math.abs(value(softTargetLoss(zt, zt, 7))) < 1e-6);
  });

  it("has the analytic gradient T·(p_s − p_t)/B of the soft term", () => {
    const T = 3;
    const g = tf.grad((s: tf.Tensor) => softTargetLoss(zt, s, T))(zs);
    const want = tf.tidy(() => tf.div(tf.mul(tf.sub(tf.softmax(tf.div(zs, T)), tf.softmax(tf.div(zt, T))), T), 2));
    const [a, b] = [g.dataSync(), want.dataSync()];
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6, `gradient ${i}: ${v} vs ${b[i]}`));
    tf.dispose([g, want]);
  });

  it("keeps the soft gradient's size across temperatures thanks to T² (Hinton et al. 2015, §2.1)", () => {
    // Small logits: the high-temperature regime, where ∂KL/∂z_s ≈ (z_s − z_t)/(C·T²).
    const a = tf.randomNormal([16, 10], 0, 0.5, "float32", 1);
    const b = tf.randomNormal([16, 10], 0, 0.5, "float32", 2);
    const norm = (T: number, scaled: boolean) =>
      tf.tidy(() => {
        const g = tf.grad((s: tf.Tensor) => (scaled ? softTargetLoss(a, s, T) : tf.div(softTargetLoss(a, s, T), T * T)))(b);
        return tf.norm(g).dataSync()[0];
      });
    const withT2 = norm(2, true) / norm(8, true);
    const withoutT2 = norm(2, false) / norm(8, false);
    assert.ok(withT2 > 0.5 && withT2 < 2, `with T²: T=2 vs T=8 gradient norms differ by ${withT2}`);
    assert.ok(withoutT2 > 8 && withoutT2 < 32, `without T²: ratio ${withoutT2}, expected about T² ratio 16`);
    tf.dispose([a, b]);
  });

  it("rejects T ≤ 0, α outside [0, 1] and logits that do not fit, in one line each", () => {
    assertThrows(() => distillationLoss(zt, zs, y, { temperature: 0, alpha: 0.5 }), "E_ARG",
      "distillationLoss: temperature 0 is not allowed: pass a number > 0, e.g. 4 (Hinton et al. 2015 used 20 on MNIST)");
    assertThrows(() => distillationLoss(zt, zs, y, { temperature: 2, alpha: 1.5 }), "E_ARG",
      "distillationLoss: alpha 1.5 is not allowed: pass a number in [0, 1] (the soft term's weight, e.g. 0.9; 0 trains on hard labels only)");
    const wide = tf.zeros([2, 4]);
    assertThrows(() => distillationLoss(wide, zs, y, { temperature: 2, alpha: 0.5 }), "E_DATA",
      "distillationLoss: teacher logits [2, 4] and student logits [2, 3] differ; both must be [batch, classes]");
    assertThrows(() => hardLabelLoss(tf.tensor1d([0, 1, 2]), zs), "E_DATA",
      "hardLabelLoss: labels [3] do not fit logits [2, 3]; pass class indices [batch] or one-hot [batch, classes]");
    wide.dispose();
  });

  it("leaks no tensors", () => {
    value(distillationLoss(zt, zs, y, { temperature: 2, alpha: 0.7 }));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) value(distillationLoss(zt, zs, y1h, { temperature: 4, alpha: 0.5 }));
    assert.strictEqual(tf.memory().numTensors, before);
  });
});
