import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { forgetDispose, onDispose } from "../../../plugins/toolkit/lifetime";

function tiny(name = "tiny"): tf.Sequential {
  return tf.sequential({ name, layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
}

describe("toolkit/lifetime", () => {
  before(async () => {
    await tf.setBackend("cpu");
  });

  it("runs each key's cleanup once, when the model is disposed, the latest registration per key", () => {
    const m = tiny();
    const calls: string[] = [];
    onDispose(m, "a", () => calls.push("a1"));
    onDispose(m, "a", () => calls.push("a2"));
    onDispose(m, "b", () => calls.push("b"));
    assert.deepStrictEqual(calls, []);
    const result = m.dispose();
    assert.strictEqual(result.refCountAfterDispose, 0, "tfjs's own result is passed on");
    assert.deepStrictEqual(calls, ["a2", "b"]);
    assert.throws(() => m.dispose(), /disposed/);
    assert.deepStrictEqual(calls, ["a2", "b"], "not run again");
  });

  it("forgetDispose drops a cleanup without running it", () => {
    const m = tiny();
    let ran = false;
    onDispose(m, "x", () => (ran = true));
    forgetDispose(m, "x");
    m.dispose();
    assert.strictEqual(ran, false);
  });

  it("a model another one still uses is not released by its own dispose", () => {
    const inner = tiny("inner");
    const input = tf.input({ shape: [3] });
    tf.model({ inputs: input, outputs: inner.apply(input) as tf.SymbolicTensor });
    let ran = 0;
    onDispose(inner, "k", () => ran++);
    assert.ok(inner.dispose().refCountAfterDispose > 0);
    assert.strictEqual(ran, 0, "the outer model still uses its weights");
  });

  it("runs every cleanup even when one throws, and rethrows the first error", () => {
    const m = tiny();
    let second = false;
    onDispose(m, "bad", () => {
      throw new Error("boom");
    });
    onDispose(m, "good", () => (second = true));
    assert.throws(() => m.dispose(), /boom/);
    assert.strictEqual(second, true);
  });
});
