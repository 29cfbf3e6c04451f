import * as tf from "@tensorflow/tfjs";
import * as assert from "assert";
import { encodeSlim } from "../../../plugins/format/slim";
import { compare, paretoFront } from "../../../plugins/measure/compare";
import { summary } from "../../../plugins/measure/summary";
import { assertNoLeak, assertRejectsSlimlab, init, onBackend } from "./helpers";

function mlp(name: string, hidden: number, seed: number): tf.Sequential {
  return tf.sequential({
    name,
    layers: [
      tf.layers.dense({ name: "fc1", units: hidden, activation: "relu", inputShape: [6], kernelInitializer: init(seed) }),
      tf.layers.dense({ name: "fc2", units: 3, activation: "softmax", kernelInitializer: init(seed + 1) }),
    ],
  });
}

describe("measure/compare", () => {
  onBackend("cpu");

  it("finds the Pareto frontier: nothing at least as accurate and as small", () => {
    // x = size (lower is better), y = accuracy (higher is better).
    assert.deepStrictEqual(paretoFront([10, 5, 5, 20], [0.9, 0.8, 0.7, 0.95]), [true, true, false, true]);
    assert.deepStrictEqual(paretoFront([1, 1], [0.5, 0.5]), [true, true]);
  });

  it("tabulates size, FLOPs, latency and accuracy with ratios to the first model", async () => {
    const big = mlp("big", 64, 1);
    const small = mlp("small", 8, 3);
    const xs = tf.randomUniform([20, 6], -1, 1, "float32", 5);
    const ys = tf.tidy(() => tf.argMax(big.predict(xs) as tf.Tensor, -1));
    const r = await compare([big, small], { data: { xs, ys }, runs: 2, warmup: 1 });
    assert.strictEqual(r.backend, "cpu");
    assert.deepStrictEqual(r.batch, [1, 32]);
    const [a, b] = r.rows;
    assert.deepStrictEqual([a.name, b.name], ["big", "small"]);
    assert.strictEqual(a.params, 6 * 64 + 64 + 64 * 3 + 3);
    assert.strictEqual(b.savedBytes, 4 * (6 * 8 + 8 + 8 * 3 + 3));
    assert.strictEqual(b.flops, summary(small).totals.flops);
    assert.deepStrictEqual(a.ratios, { file: 1, gzip: 1, sparse: 1, flops: 1, latencySmall: 1, latencyLarge: 1 });
    assert.strictEqual(b.fileBytes, (await encodeSlim(small)).bytes);
    assert.strictEqual(b.ratios.file, (b.fileBytes as number) / (a.fileBytes as number));
    assert.strictEqual(r.sizeAxis, "file");
    assert.strictEqual(b.ratios.flops, (6 * 8 + 8 * 3) / (6 * 64 + 64 * 3));
    assert.strictEqual(b.ratios.gzip, b.gzipBytes / a.gzipBytes);
    // The labels are big's own predictions: big is exact; the smaller, faster model may also be on the frontier.
    assert.strictEqual(a.accuracy, 1);
    assert.strictEqual(a.accuracyDelta, 0);
    assert.strictEqual(b.accuracyDelta, b.accuracy - 1);
    assert.strictEqual(a.paretoSize, true);
    assert.strictEqual(b.paretoSize, true); // smaller
    const bundle = r.toMimeBundle();
    const fig = bundle["application/vnd.plotly.v1+json"] as { data: { xaxis: string; x: number[] }[] };
    assert.deepStrictEqual(fig.data.map((t) => t.xaxis), ["x", "x", "x2", "x2"]);
    assert.deepStrictEqual(fig.data[0].x, [(a.fileBytes as number) / 1024, (b.fileBytes as number) / 1024]);
    assert.match(String(bundle["text/plain"]), /^Compared on backend "cpu"; ratios are model \/ big\n/);
    assert.match(String(bundle["text/html"]), /<table class="dataframe">/);
    tf.dispose([xs, ys]);
    big.dispose();
    small.dispose();
  });

  it("names models m1, m2 when their names repeat, or as given; plots latency without data", async () => {
    const a = mlp("same", 4, 1);
    const b = mlp("same", 4, 2);
    const r = await compare([a, b], { runs: 1, warmup: 0 });
    assert.deepStrictEqual(r.rows.map((x) => x.name), ["m1", "m2"]);
    assert.ok(r.rows.every((x) => Number.isNaN(x.accuracy)));
    const fig = r.figure();
    assert.strictEqual(fig.data.length, 2);
    assert.match(JSON.stringify(fig.layout), /Latency against size \(no --data given\)/);
    const named = await compare([a, b], { names: ["base", "other"], runs: 1, warmup: 0 });
    assert.deepStrictEqual(named.rows.map((x) => x.name), ["base", "other"]);
    a.dispose();
    b.dispose();
  });

  it("rejects no models, a non-model, bad names and data that does not fit, in one line", async () => {
    const a = mlp("a", 4, 1);
    await assertRejectsSlimlab(compare([]), "E_MISSING_ARG", "compare: got []; give one or more models, e.g. compare([model, pruned])");
    await assertRejectsSlimlab(compare([a, 7 as unknown as tf.LayersModel]), "E_TYPE", /^compare \(model 2\): expected a tf\.LayersModel, received 7; /);
    await assertRejectsSlimlab(compare([a], { names: ["x", "y"] }), "E_ARG", 'compare: names got ["x", "y"]; allowed: 1 non-empty strings, one per model');
    await assertRejectsSlimlab(compare([a], { batch: [0, 32] }), "E_ARG", "compare: batch size 0 is not allowed; batch sizes are positive integers, e.g. [1, 8, 32]");
    const wrong = { xs: tf.zeros([3, 5]), ys: tf.tensor1d([0, 1, 2], "int32") };
    await assertRejectsSlimlab(compare([a], { data: wrong, runs: 1, warmup: 0, argName: "--data" }), "E_DATA", 'evaluateModel: --data.xs has examples of shape [5] but model "a" takes [6]');
    tf.dispose([wrong.xs, wrong.ys]);
    a.dispose();
  });

  it("does not leak tensors", async () => {
    const a = mlp("a", 4, 1);
    const data = { xs: tf.zeros([4, 6]), ys: tf.tensor1d([0, 1, 2, 0], "int32") };
    await assertNoLeak(() => compare([a, a], { data, runs: 1, warmup: 0 }));
    tf.dispose([data.xs, data.ys]);
    a.dispose();
  });
});
