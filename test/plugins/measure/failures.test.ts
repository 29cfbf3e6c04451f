/**
 * The measure magics when something goes wrong: each failure path (bad
 * options, data that does not fit, a model call that throws half way, a
 * batch too large for the backend) raises one line and leaves
 * tf.memory().numTensors as it was; repeated successful runs do not grow
 * it; a model without weights is measured, not crashed on.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import * as assert from "assert";
import { invokeMagic } from "../../../plugins/core/magic";
import { bench } from "../../../plugins/measure/bench";
import { compare } from "../../../plugins/measure/compare";
import { evaluateModel } from "../../../plugins/measure/evaluate";
import { allocationLimit } from "../../../plugins/measure/inputs";
import { benchMagic, sizeMagic, summaryMagic } from "../../../plugins/measure/magics";
import { optimize } from "../../../plugins/measure/optimize";
import { size } from "../../../plugins/measure/size";
import { summary } from "../../../plugins/measure/summary";
import { assertNoLeak, assertRejectsSlimlab, init, onBackend } from "./helpers";

function mlp(name: string, seed: number): tf.Sequential {
  return tf.sequential({
    name,
    layers: [
      tf.layers.dense({ name: "fc1", units: 16, activation: "relu", inputShape: [8], kernelInitializer: init(seed) }),
      tf.layers.batchNormalization({ name: "bn" }),
      tf.layers.dense({ name: "fc2", units: 4, activation: "softmax", kernelInitializer: init(seed + 1) }),
    ],
  });
}

/** Makes `model.predict` throw from its `n`-th call on (after running, so its outputs exist and must be freed). */
function failFrom(model: tf.LayersModel, n: number): () => void {
  let calls = 0;
  const original = model.predict;
  model.predict = function (this: tf.LayersModel, ...args: Parameters<tf.LayersModel["predict"]>) {
    const out = original.apply(this, args);
    if (++calls >= n) {
      tf.dispose(out);
      throw new Error("injected failure");
    }
    return out;
  };
  return () => void delete (model as unknown as Record<string, unknown>).predict;
}

/** Asserts `run` rejects (any error) and leaves the tensor count as it was. */
async function failsClean(run: () => Promise<unknown>, what: string): Promise<void> {
  const before = tf.memory().numTensors;
  await assert.rejects(run(), (e: unknown) => e instanceof Error, what);
  assert.strictEqual(tf.memory().numTensors, before, `${what}: tensors left behind`);
}

describe("measure failures", () => {
  onBackend("cpu");
  let a: tf.Sequential;
  let b: tf.Sequential;
  let data: { xs: tf.Tensor; ys: tf.Tensor };
  before(() => {
    a = mlp("a", 1);
    b = mlp("b", 3);
    data = tf.tidy(() => ({ xs: tf.randomUniform([40, 8], -1, 1, "float32", 2), ys: tf.tensor1d(Array.from({ length: 40 }, (_, i) => i % 4), "int32") }));
  });
  after(() => {
    a.dispose();
    b.dispose();
    tf.dispose([data.xs, data.ys]);
  });

  it("every failure path of bench, evaluate, compare, summary, size and optimize leaves no tensor behind", async () => {
    const bad = tf.tidy(() => ({
      wide: { xs: tf.zeros([10, 9]), ys: tf.zeros([10], "int32") },
      oneHot5: { xs: tf.zeros([10, 8]), ys: tf.oneHot(tf.zeros([10], "int32"), 5) },
      // Label 7 in the second batch: found after the first batch was scored.
      label: { xs: tf.zeros([16, 8]), ys: tf.tensor1d([...new Array(12).fill(0), 7, 0, 0, 0], "int32") },
    }));
    const badDataset = () => tf.data.array([0, 1, 2]).map((i) => tf.tidy(() => ({ xs: tf.zeros([4, (i as number) === 2 ? 9 : 8]), ys: tf.zeros([4], "int32") })));
    const cases: [string, () => Promise<unknown>][] = [
      ["bench runs 0", () => bench(a, { runs: 0 })],
      ["bench batch too large", () => bench(a, { batch: [1, 2 ** 40] })],
      ["bench call fails in the warm-up", async () => failing(a, 1, () => bench(a, { batch: [4], runs: 2, warmup: 2 }))],
      ["bench call fails in the timed samples", async () => failing(a, 9, () => bench(a, { batch: [4], runs: 5, warmup: 2 }))],
      ["evaluate xs do not fit", () => evaluateModel(a, bad.wide)],
      ["evaluate one-hot width", () => evaluateModel(a, bad.oneHot5)],
      ["evaluate label out of range in batch 2", () => evaluateModel(a, bad.label, { batchSize: 8 })],
      ["evaluate bad Dataset element", () => evaluateModel(a, badDataset() as never)],
      ["evaluate call fails in batch 3", async () => failing(a, 3, () => evaluateModel(a, data, { batchSize: 8 }))],
      ["compare bad names", () => compare([a, b], { names: ["x"] })],
      ["compare data do not fit", () => compare([a, b], { data: bad.wide, runs: 1, warmup: 0 })],
      ["compare second model fails", async () => failing(b, 2, () => compare([a, b], { data, runs: 1, warmup: 0 }))],
      ["summary of a non-model", () => invokeMagic(summaryMagic, [data.xs], {})],
      ["size bad valueBits", () => invokeMagic(sizeMagic, [a], { valueBits: 0 })],
      ["size of artifacts with an unsized dtype", () => size({ modelTopology: {}, weightSpecs: [{ name: "w", shape: [2], dtype: "string" as "float32" }], weightData: new ArrayBuffer(8) })],
      ["optimize batch too large", () => optimize(a, { batch: 2 ** 40 })],
      ["optimize fails after building the new model", async () => failing(a, 3, () => optimize(a, { runs: 2, warmup: 1 }))],
    ];
    for (const [what, run] of cases) await failsClean(run, what);
    tf.dispose([bad.wide.xs, bad.wide.ys, bad.oneHot5.xs, bad.oneHot5.ys, bad.label.xs, bad.label.ys]);
  });

  it("repeated successful runs do not grow the tensor count", async () => {
    await assertNoLeak(async () => {
      await bench(a, { batch: [1, 4], runs: 2, warmup: 1 });
      await evaluateModel(a, data, { batchSize: 16 });
      await compare([a, b], { data, runs: 1, warmup: 1 });
      summary(a);
      await size(a);
      const o = await optimize(a, { runs: 1, warmup: 1 });
      o.model.dispose();
    });
  });

  it("a batch too large for the backend is refused up front, naming the bytes and the limit", async () => {
    const limit = allocationLimit();
    assert.ok(limit.bytes === 2 ** 34 || limit.bytes === require("os").totalmem(), `limit ${limit.bytes}`);
    // 8 inputs + 16 (the largest layer output) floats per example: 96 bytes.
    const batch = Math.floor(limit.bytes / 96) + 1;
    await assertRejectsSlimlab(
      invokeMagic(benchMagic, [a], { batch: [1, batch], runs: 1 }),
      "E_ARG",
      new RegExp(`^bench: batch ${batch} needs about ${batch * 96} bytes \\([\\d.]+ GB: inputs [\\d.]+ GB \\+ largest layer output [\\d.]+ GB\\) but the limit is ${limit.bytes} bytes \\([\\d.]+ GB: ${limit.why.replace(/[\^$.*+?()[\]{}|\\]/g, "\\$&")}\\); pass batch <= ${batch - 1}$`)
    );
  });

  it("a model without weights (only Flatten) has size 0, ratios 1 and a table", async () => {
    const flat = tf.sequential({ name: "flat", layers: [tf.layers.flatten({ inputShape: [2, 3] })] });
    const s = await invokeMagic(sizeMagic, [flat], {});
    assert.deepStrictEqual([s.params, s.float32Bytes, s.savedBytes, s.gzipBytes, s.sparseBytes], [0, 0, 0, 0, 0]);
    assert.deepStrictEqual(s.ratios, { file: 1, saved: 1, gzip: 1, sparse: 1 });
    // The .slim file of a model without weights is its header alone.
    assert.strictEqual(s.file?.bytes, s.file?.headerBytes);
    assert.deepStrictEqual(s.layers, []);
    const bundle = s.toMimeBundle();
    assert.match(String(bundle["text/plain"]), /^Model "flat": 0 weights, 0 non-zero \(0%\)[^\n]*\nformat +bytes +size +ratio\nfloat32 +0 +0 B +1×\n[\s\S]*\nno layer has weights$/);
    assert.match(String(bundle["text/html"]), /<table class="dataframe">[\s\S]*<p>No layer has weights\.<\/p>$/);
    assert.strictEqual(summary(flat).totals.params, 0);
    flat.dispose();
  });

  describe("on the wasm backend", () => {
    onBackend("wasm");
    it("the limit is wasm's 4 GiB of memory", async () => {
      assert.deepStrictEqual(allocationLimit(), { bytes: 2 ** 32, why: "the wasm backend's memory is at most 4 GiB" });
      const wide = tf.sequential({ name: "wide", layers: [tf.layers.dense({ units: 8, inputShape: [1024] })] });
      // 1024 inputs + 8 outputs = 4128 bytes per example; 2^20 examples need more than 4 GiB.
      await assertRejectsSlimlab(
        bench(wide, { batch: [2 ** 20] }),
        "E_ARG",
        "bench: batch 1048576 needs about 4328521728 bytes (4.03 GB: inputs 4 GB + largest layer output 32 MB) but the limit is 4294967296 bytes (4 GB: the wasm backend's memory is at most 4 GiB); pass batch <= 1040447"
      );
      wide.dispose();
    });
  });
});

/** Runs `fn` with `model.predict` failing from call `n` on, then puts predict back. */
async function failing(model: tf.LayersModel, n: number, fn: () => Promise<unknown>): Promise<unknown> {
  const restore = failFrom(model, n);
  try {
    return await fn();
  } finally {
    restore();
  }
}
