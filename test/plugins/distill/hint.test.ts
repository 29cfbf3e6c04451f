import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { hintLoss, hintProjection, parseHint, resolveHint } from "../../../plugins/distill/hint";
import { assertThrows, mlp3, suiteBackend } from "./helpers";

describe("distill/hint", () => {
  suiteBackend("cpu");

  it("parses teacherLayer:studentLayer and rejects anything else", () => {
    assert.deepStrictEqual(parseHint("h2:h1"), { teacher: "h2", student: "h1" });
    for (const bad of ["h1", "h1:", ":h1", "a:b:c"]) {
      assertThrows(() => parseHint(bad), "E_ARG", `distill: hint ${JSON.stringify(bad)} is not allowed: pass "teacherLayer:studentLayer", e.g. "fc1:fc1"`);
    }
  });

  it("names a missing layer and lists the model's layers", () => {
    const t = mlp3(8, 1, "teacher");
    const s = mlp3(4, 2, "student");
    assertThrows(() => resolveHint(t, s, parseHint("h3:h1")), "E_ARG",
      'distill: hint teacher layer "h3" does not exist in model "teacher" (did you mean h1?); layers: h1, h2, out');
    assertThrows(() => resolveHint(t, s, parseHint("h1:fc1")), "E_ARG",
      'distill: hint student layer "fc1" does not exist in model "student" (did you mean h1?); layers: h1, h2, out');
    const r = resolveHint(t, s, parseHint("h2:h1"));
    assert.deepStrictEqual([r.teacherWidth, r.studentWidth], [8, 4]);
    t.dispose();
    s.dispose();
  });

  it("learns a projection only when widths differ, and computes the MSE through it", () => {
    const t = mlp3(8, 1, "teacher");
    const s = mlp3(4, 2, "student");
    const p = hintProjection(resolveHint(t, s, parseHint("h1:h1")), 3) as tf.Variable;
    assert.deepStrictEqual(p.shape, [4, 8]);
    assert.strictEqual(hintProjection(resolveHint(t, t, parseHint("h1:h2")), 3), undefined);
    // fs·P with P = [[1, 0, 1], [0, 2, 0]]: [1, 1] → [1, 2, 1]; teacher [1, 0, 0]; MSE = (0 + 4 + 1)/3.
    const proj = tf.variable(tf.tensor2d([[1, 0, 1], [0, 2, 0]]));
    const l = hintLoss(tf.tensor2d([[1, 0, 0]]), tf.tensor2d([[1, 1]]), proj);
    assert.ok(Math.abs(l.dataSync()[0] - 5 / 3) < 1e-6);
    tf.dispose([p, proj, l]);
    t.dispose();
    s.dispose();
  });
});
